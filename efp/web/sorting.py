"""Sorting a list by its column headers: `?o=<column>` (or `?o=-<column>` for descending), remembered per
list in the session, so that coming back to the list (or filtering it) keeps the choice.

A list declares its sortable columns once (`Sorting(request, "provider-resources", COLUMNS, default)`);
the view orders its queryset with `sorting.order(qs)` and the template draws each header with
`{% sort_header sorting "name" %}`: a link that says where it leads, and `aria-sort` on the sorted column.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.db.models import QuerySet
from django.http import HttpRequest


@dataclass(frozen=True)
class Column:
    label: str
    fields: tuple[str, ...]  # ORM fields, ascending; "pk" is added last to keep pages stable


# The columns of the order lists (provider and consumer); newest first unless the person chose otherwise.
ORDER_COLUMNS = {
    "order": Column("Order (type)", ("resource__name", "type")),
    "offering": Column("Offering", ("offering__name",)),
    "organisation": Column("Organisation / project", ("project__customer__name", "project__name")),
    "created": Column("Created (by)", ("created",)),
    "state": Column("State", ("state",)),
}
ORDER_DEFAULT = "-created"


class Sorting:
    def __init__(
        self,
        request: HttpRequest,
        list_name: str,
        columns: dict[str, Column],
        default: str,
        *,
        param: str = "o",
    ) -> None:
        """`param` names the query parameter: a page showing two lists gives the second its own."""
        self.request, self.columns, self.param = request, columns, param
        key = f"sort:{list_name}"
        asked = request.GET.get(param)
        session = getattr(request, "session", {})  # a request built without middleware has none
        if asked is not None and self._valid(asked):
            session[key] = asked
            chosen = asked
        else:
            remembered = session.get(key)
            chosen = remembered if isinstance(remembered, str) and self._valid(remembered) else default
        self.descending = chosen.startswith("-")
        self.column = chosen.lstrip("-")

    def _valid(self, value: str) -> bool:
        return value.lstrip("-") in self.columns and value.count("-") <= 1

    @property
    def value(self) -> str:
        return ("-" if self.descending else "") + self.column

    def order(self, qs: QuerySet[Any]) -> QuerySet[Any]:
        sign = "-" if self.descending else ""
        fields = [f"{sign}{field}" for field in self.columns[self.column].fields]
        return qs.order_by(*fields, f"{sign}pk")

    def sort_rows(self, rows: list[Any], keys: dict[str, Any]) -> list[Any]:
        """Computed rows (a read model, not a queryset) sorted in Python: `keys` maps each column to a
        function of a row; None sorts last whichever the direction. Stable, so equal rows keep their order."""
        key = keys[self.column]
        present = [row for row in rows if key(row) is not None]
        missing = [row for row in rows if key(row) is None]
        return sorted(present, key=key, reverse=self.descending) + missing

    def header(self, column: str) -> dict[str, Any]:
        """What a header shows: its label, the link (the other direction when sorted by it), aria-sort."""
        current = column == self.column
        descending_next = current and not self.descending
        params = self.request.GET.copy()
        params[self.param] = ("-" if descending_next else "") + column
        params.pop("page", None)
        direction = "descending" if self.descending else "ascending"
        return {
            "label": self.columns[column].label,
            "url": "?" + params.urlencode(),
            "aria_sort": direction if current else "",
            "next": "descending" if descending_next else "ascending",
            "arrow": ("▼" if self.descending else "▲") if current else "",
        }
