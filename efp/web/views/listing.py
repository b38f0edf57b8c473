"""Paging the provider workspace's long lists (resources, orders) at a cost that does not grow with them.

- The pager's count is the list tally's (`marketplace/tallies.py`, the rule `X-Result-Count` reads) when
  every filter in use is a tally dimension (the offering, the states), else `COUNT(*)` of the queryset.
- A page is read by its keys (two queries): the sorted, filtered keys are walked to the page (an index
  when the sort has one), then only the page's rows are read with their joins and annotations, so that
  the rows before the page, and the wide rows of the whole list, are never sorted or joined.
- The organisation choices are those of the projects the tally has rows of: the same organisations as
  DISTINCT over the list's rows, read from the small table.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from functools import cached_property
from typing import Any, cast

from django.core.paginator import Page, Paginator
from django.db.models import QuerySet
from django.db.models.expressions import RawSQL
from django.http import HttpRequest

from efp.marketplace import tallies
from efp.structure.models import Customer, Project
from efp.web.views.common import PAGE_SIZE


def _in_use(value: Any) -> bool:
    return value is not None and value is not False and value != "" and value != []


def tallied_count(
    tallied: tallies.TalliedList,
    user: Any,
    data: dict[str, Any],
    *,
    states: Iterable[str] | None,
    ignored: Iterable[str] = (),
) -> Callable[[], int] | None:
    """How to count a list from the tally: `data` is its form's cleaned data (the filters that apply),
    `states` the states it shows (None: all), `ignored` the form keys already read into `states`. None
    when a filter in use is not a tally dimension."""
    query: dict[str, list[str]] = {}
    for key, value in data.items():
        if key in ignored or key == "state" or not _in_use(value):
            continue
        if key != "offering":
            return None
        query["offering_uuid"] = [value]
    if states is not None:
        query["state"] = list(states)
        if not query["state"]:
            return lambda: 0
    return tallies.counter(tallied, user, query)


def organisations(tallied: tallies.TalliedList, user: Any) -> list[tuple[str, str]]:
    """(uuid, name) of the organisations whose projects have rows in the list `user` sees, by name."""
    projects = tallies.projects(tallied, user)
    of_projects = Project.objects.filter(pk__in=RawSQL(projects.sql, projects.params)).values("customer_id")  # noqa: S611 - bound parameters
    return [
        (c.uuid.hex, c.name)
        for c in Customer.objects.filter(pk__in=of_projects).only("uuid", "name").order_by("name")
    ]


class KeyedRows:
    """A sorted queryset as a pager reads it: `count()` (from `counter` when given) and a slice, which
    walks the sorted keys to the slice and reads those rows through `detail` (joins, annotations)."""

    def __init__(
        self,
        keys: QuerySet[Any],
        detail: Callable[[QuerySet[Any]], QuerySet[Any]],
        counter: Callable[[], int] | None = None,
    ) -> None:
        self.keys = keys
        self.detail = detail
        self.counter = counter
        self.ordered = True

    @cached_property
    def _count(self) -> int:
        return self.counter() if self.counter is not None else self.keys.count()

    def count(self) -> int:
        return self._count

    def __len__(self) -> int:
        return self._count

    def __getitem__(self, page: slice) -> list[Any]:
        assert isinstance(page, slice)
        # The keys as a list, not a subquery: given `IN (SELECT ... LIMIT)`, PostgreSQL may join every
        # row of the list before it keeps the page's (a hash semi join, seen at 200,000 orders).
        keys = list(self.keys.values_list("pk", flat=True)[page])
        rows = {row.pk: row for row in self.detail(self.keys.model._default_manager.filter(pk__in=keys))}
        return [rows[key] for key in keys if key in rows]


def paginate_keyed(request: HttpRequest, rows: KeyedRows, per_page: int = PAGE_SIZE) -> Page:
    # `KeyedRows` is sliced and counted as a pager asks, not indexed or iterated: not the stubs' protocol.
    return Paginator(cast(Any, rows), per_page).get_page(request.GET.get("page"))
