"""`X-Result-Count` read from `ListTally` instead of counting every visible row.

A list is declared once (`TalliedList`: which tally, whose side, which query keys are tally dimensions);
a request whose filters are all dimensions (none, the month, the state(s), offering_uuid, project_uuid) is
counted as the sum of the tally's rows that the caller may see, in one small statement:

    rows whose offering is one of mine (provider side) OR whose project is one of mine (consumer side)

which is Σ(offering ∈ O) + Σ(project ∈ P) - Σ(both), read with the visibility rules of
`structure/access.py` (`my_offerings`, `my_projects`), as the list's own queryset reads them; staff and
support sum every row. The provider workspace's GUI lists (`Side.WORKSPACE`) read `workspace_offerings`,
as their querysets do, and take their organisation choices from the tally's projects (`projects`). Any
other filter, or a value that is not plainly well formed, answers None and the list counts its queryset
(`COUNT(*)`) as before, which also writes the 400s. test_tallies.py compares
both counts for every persona, list and filter after every kind of write.
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from django.db import connection

from efp.accounts.authentication import TOKEN_QUERY_PARAM
from efp.marketplace.models import ListTally, Offering
from efp.marketplace.states import OrderState, ResourceState
from efp.rest.filters import plain_date, plain_uuids
from efp.structure import access
from efp.structure.access import OuterColumn
from efp.structure.models import Project

K = ListTally.Kind

# Keys that do not filter: pagination, authentication, format, sparse fields, ordering.
NOT_FILTERS = frozenset({"page", "page_size", TOKEN_QUERY_PARAM, "format", "field", "o"})


class Side(enum.Enum):
    PROVIDER = "provider"  # rows of my offerings
    CONSUMER = "consumer"  # rows of my (live) projects
    BOTH = "both"
    WORKSPACE = "workspace"  # rows of the offerings the provider workspace shows (the GUI's lists)


@dataclass(frozen=True)
class TalliedList:
    """A list counted from the tally: its `kind`, whose rows it shows, and the query keys of its month
    and state filters (None: the list has no such filter)."""

    kind: str
    side: Side
    period_key: str | None = None
    state_key: str | None = None
    states: frozenset[str] = frozenset()


COMPONENT_USAGES = TalliedList(K.COMPONENT_USAGE, Side.BOTH, period_key="billing_period")
USER_USAGES = TalliedList(K.USER_USAGE, Side.BOTH, period_key="component_usage__billing_period")
ORDERS = TalliedList(K.ORDER, Side.BOTH, state_key="state", states=frozenset(OrderState.values))
PROVIDER_RESOURCES = TalliedList(
    K.RESOURCE, Side.PROVIDER, state_key="state", states=frozenset(ResourceState.values)
)
CONSUMER_RESOURCES = TalliedList(
    K.RESOURCE, Side.CONSUMER, state_key="state", states=frozenset(ResourceState.values)
)

WORKSPACE_RESOURCES = TalliedList(
    K.RESOURCE, Side.WORKSPACE, state_key="state", states=frozenset(ResourceState.values)
)
WORKSPACE_ORDERS = TalliedList(
    K.ORDER, Side.WORKSPACE, state_key="state", states=frozenset(OrderState.values)
)

_TALLY, _OFFERING, _PROJECT = ListTally._meta.db_table, Offering._meta.db_table, Project._meta.db_table


def _marks(values: list[Any]) -> str:
    return ", ".join(["%s"] * len(values))


def _uuids(values: list[str]) -> list[Any] | None:
    keys = plain_uuids(values)
    if keys is None:
        return None
    prep = Offering._meta.get_field("uuid").get_db_prep_value
    return [prep(key, connection) for key in keys]


def _conditions(tallied: TalliedList, query: Mapping[str, list[str]]) -> tuple[list[str], list[Any]] | None:
    """The tally conditions of a request's filters, or None when one of them is not a dimension."""
    sql: list[str] = ["t.kind = %s"]
    params: list[Any] = [tallied.kind]
    for key, values in query.items():
        if key in NOT_FILTERS:
            continue
        if key == tallied.period_key:
            day = plain_date(values)
            if day is None:
                return None
            sql.append("t.period = %s")
            params.append(connection.ops.adapt_datefield_value(day))
        elif key == tallied.state_key:
            if not values or any(value not in tallied.states for value in values):
                return None
            sql.append(f"t.state IN ({_marks(values)})")
            params += values
        elif key in ("offering_uuid", "project_uuid"):
            keys = _uuids(values)
            if keys is None:
                return None
            column, table = ("offering_id", _OFFERING) if key == "offering_uuid" else ("project_id", _PROJECT)
            sql.append(f"t.{column} IN (SELECT id FROM {table} WHERE uuid IN ({_marks(keys)}))")  # noqa: S608
            params += keys
        else:
            return None
    return sql, params


def _visible(tallied: TalliedList, user: Any) -> access.Fragment:
    if access.is_anonymous(user):
        return access.NEVER
    if access.sees_everything(user):
        return access.ALWAYS
    if tallied.side is Side.WORKSPACE:
        return access.workspace_offerings(user).contains(OuterColumn("t.offering_id"))
    provider = access.my_offerings(user).contains(OuterColumn("t.offering_id"))
    consumer = access.my_projects(user).contains(OuterColumn("t.project_id"))
    return {Side.PROVIDER: provider, Side.CONSUMER: consumer, Side.BOTH: provider | consumer}[tallied.side]


def counter(tallied: TalliedList, user: Any, query: Mapping[str, list[str]]) -> Callable[[], int] | None:
    """How to count the list `query` asks `user` for from the tally (one statement when called), or None
    when its filters are not all tally dimensions. `query`: {key: [values]} (a QueryDict's `lists()`)."""
    found = _conditions(tallied, query)
    if found is None:
        return None
    where, params = found
    visible = _visible(tallied, user)
    where.append(visible.sql)
    params += visible.params
    sql = f"SELECT COALESCE(SUM(t.count), 0) FROM {_TALLY} t WHERE {' AND '.join(where)}"  # noqa: S608

    def count() -> int:
        with connection.cursor() as cursor:
            cursor.execute(sql, params)
            (total,) = cursor.fetchone()
        return int(total)

    return count


def projects(tallied: TalliedList, user: Any) -> access.Fragment:
    """The projects that have at least one row of the list `user` sees (any state, any month), as a
    subquery: a list's filter choices read from the tally's rows rather than from every row of the list."""
    visible = _visible(tallied, user)
    return access.Fragment(
        f"SELECT DISTINCT t.project_id FROM {_TALLY} t WHERE t.kind = %s AND t.count > 0 AND {visible.sql}",  # noqa: S608
        (tallied.kind, *visible.params),
    )


def workspace_state_count(kind: str, user: Any, state: str) -> int | None:
    """How many orders (`kind` "order") or resources ("resource") of the provider workspace's offerings
    are in `state` (the dashboard's tiles, the menu badge): the workspace lists' own tally count, one small
    statement. None when the tally does not count this kind by this state (the caller counts the rows)."""
    tallied = {K.ORDER.value: WORKSPACE_ORDERS, K.RESOURCE.value: WORKSPACE_RESOURCES}.get(kind)
    if tallied is None or tallied.state_key is None or state not in tallied.states:
        return None
    count = counter(tallied, user, {tallied.state_key: [state]})
    return None if count is None else count()
