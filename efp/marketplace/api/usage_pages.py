"""The usage lists a site agent reads for every resource on every sync, as hand-written SQL.

`GET /api/marketplace-component-usages/?resource_uuid=R&billing_period=M` and
`GET /api/marketplace-component-user-usages/?resource_uuid=R&component_usage__billing_period=M` (both
with `field=`) are what waldur-site-agent asks before it reports a resource's usage. Through django-filter,
the ORM and a serializer, such a page of two or three rows cost four times what the database spends on
it; here it is one query (efp.rest.sqlrows), rendered by a plain function.

A request is answered here only when it is a GET whose query keys are all known below and every value is
well formed; anything else (other filters, `o`, HEAD, a malformed uuid or date, a repeated date) returns
None and goes the generic way, which also writes the 400s. Rows, order, visibility
(`selectors.usage_visibility_sql`) and rendering are those of the generic path: test_usage_pages.py
sends the same requests both ways, for every persona, and compares status, headers and bodies.
"""

from __future__ import annotations

import datetime
import re
import uuid
from collections.abc import Callable
from typing import Any

from django.db import connection
from rest_framework import serializers
from rest_framework.request import Request

from efp.accounts.models import User
from efp.marketplace import selectors
from efp.marketplace.models import ComponentUsage, ComponentUserUsage, Offering, OfferingComponent, Resource
from efp.rest.authentication import TOKEN_QUERY_PARAM
from efp.rest.fields import absolute_url
from efp.rest.filters import split_values
from efp.rest.sqlrows import Column, SqlRows
from efp.structure.models import Customer, Project

Condition = tuple[str, list[Any]]
Parser = Callable[[list[str]], Condition | None]

# Read elsewhere, as on the generic path: the page by the pagination, the token by authentication.
NOT_FILTERS = frozenset({"page", "page_size", TOKEN_QUERY_PARAM})
MAX_UUIDS = 100
ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")


def usage_field(**kwargs: Any) -> serializers.DecimalField:
    """Usage amounts: decimal strings with 2 places, at most 18 digits before the point."""
    return serializers.DecimalField(max_digits=20, decimal_places=2, **kwargs)


_AMOUNT = usage_field(read_only=True)


# --- query string ---------------------------------------------------------------------------------


def _uuids(column: str) -> Parser:
    """MultipleUUIDFilter: repeated keys or comma lists, dashed or hex."""

    def parse(values: list[str]) -> Condition | None:
        items = split_values(values)
        if not items or len(items) > MAX_UUIDS:
            return None
        try:
            keys = [uuid.UUID(item) for item in items]
        except ValueError:
            return None
        prep = Resource._meta.get_field("uuid").get_db_prep_value
        return f"{column} IN ({', '.join(['%s'] * len(keys))})", [prep(key, connection) for key in keys]

    return parse


def _day(column: str) -> Parser:
    """DateFilter, for the one format every date input accepts alike."""

    def parse(values: list[str]) -> Condition | None:
        if len(values) != 1 or not ISO_DATE.fullmatch(values[0]):
            return None
        try:
            day = datetime.date.fromisoformat(values[0])
        except ValueError:
            return None
        return f"{column} = %s", [connection.ops.adapt_datefield_value(day)]

    return parse


def _text(column: str) -> Parser:
    """CharFilter (exact): one value, nothing to strip, no NUL."""

    def parse(values: list[str]) -> Condition | None:
        if len(values) != 1 or not values[0] or values[0] != values[0].strip() or "\x00" in values[0]:
            return None
        return f"{column} = %s", [values[0]]

    return parse


class _Query:
    def __init__(self, conditions: list[Condition], fields: set[str] | None) -> None:
        self.conditions = conditions
        self.fields = fields


def _parse(request: Request, filters: dict[str, Parser]) -> _Query | None:
    if request.method != "GET":
        return None
    query = request.query_params
    conditions: list[Condition] = []
    fields: set[str] | None = None
    for key in query:
        values = query.getlist(key)
        if key in NOT_FILTERS:
            continue
        if key == "field":  # SparseFieldsMixin: the named fields, unknown names ignored
            fields = {name for value in values for name in value.split(",") if name} or None
            continue
        parse = filters.get(key)
        condition = parse(values) if parse is not None else None
        if condition is None:
            return None
        conditions.append(condition)
    return _Query(conditions, fields)


def _page(
    request: Request,
    filters: dict[str, Parser],
    *,
    columns: tuple[Column, ...],
    tables: str,
    order_by: str,
    render: Callable[[tuple[Any, ...]], dict[str, Any]],
) -> SqlRows | None:
    """The rows `request` asks for, among those its user may see (resource table aliased `r`)."""
    query = _parse(request, filters)
    if query is None:
        return None
    visible, params = selectors.usage_visibility_sql(request.user, "r")
    clauses = [visible]
    for sql, values in query.conditions:
        clauses.append(sql)
        params = [*params, *values]
    return SqlRows(
        columns=columns,
        from_where=f"FROM {tables} WHERE {' AND '.join(clauses)}",
        params=params,
        order_by=order_by,
        render=_kept(render, query.fields),
    )


def _kept(render: Callable[[tuple[Any, ...]], dict[str, Any]], fields: set[str] | None) -> Any:
    if fields is None:
        return render
    return lambda row: {name: value for name, value in render(row).items() if name in fields}


def _str(value: Any) -> str | None:
    return None if value is None else str(value)


# --- the tables -----------------------------------------------------------------------------------

_USAGE, _USER_USAGE = ComponentUsage._meta.db_table, ComponentUserUsage._meta.db_table
_COMPONENT, _RESOURCE = OfferingComponent._meta.db_table, Resource._meta.db_table
_OFFERING, _PROJECT, _CUSTOMER = Offering._meta.db_table, Project._meta.db_table, Customer._meta.db_table
_USER = User._meta.db_table

_USAGE_JOINS = f"""
JOIN {_COMPONENT} oc ON oc.id = u.component_id
JOIN {_RESOURCE} r ON r.id = u.resource_id
JOIN {_OFFERING} o ON o.id = r.offering_id
JOIN {_PROJECT} p ON p.id = r.project_id
JOIN {_CUSTOMER} c ON c.id = p.customer_id
"""

_NAMED = (
    Column("r.name", Resource, "name"),
    Column("r.uuid", Resource, "uuid"),
    Column("o.name", Offering, "name"),
    Column("o.uuid", Offering, "uuid"),
    Column("p.name", Project, "name"),
    Column("p.uuid", Project, "uuid"),
    Column("c.name", Customer, "name"),
    Column("c.uuid", Customer, "uuid"),
)


def _named(row: tuple[Any, ...], at: int) -> dict[str, Any]:
    """resource_name, resource_uuid, … customer_uuid from the `_NAMED` columns starting at `at`."""
    return {
        "resource_name": _str(row[at]),
        "resource_uuid": row[at + 1].hex,
        "offering_name": _str(row[at + 2]),
        "offering_uuid": row[at + 3].hex,
        "project_name": _str(row[at + 4]),
        "project_uuid": row[at + 5].hex,
        "customer_name": _str(row[at + 6]),
        "customer_uuid": row[at + 7].hex,
    }


# --- component usages -----------------------------------------------------------------------------

COMPONENT_USAGE_FILTERS: dict[str, Parser] = {
    "resource_uuid": _uuids("r.uuid"),
    "billing_period": _day("u.billing_period"),
    "type": _text("oc.type"),
}

_COMPONENT_USAGE_COLUMNS = (
    Column("u.uuid", ComponentUsage, "uuid"),
    Column("u.created", ComponentUsage, "created"),
    Column("u.description", ComponentUsage, "description"),
    Column("oc.type", OfferingComponent, "type"),
    Column("oc.name", OfferingComponent, "name"),
    Column("oc.measured_unit", OfferingComponent, "measured_unit"),
    Column("u.usage", ComponentUsage, "usage"),
    Column("u.date", ComponentUsage, "date"),
    Column("u.recurring", ComponentUsage, "recurring"),
    *_NAMED,
    Column("u.billing_period", ComponentUsage, "billing_period"),
    Column("u.modified_by_id", ComponentUsage, "modified_by"),
)


def _component_usage(row: tuple[Any, ...]) -> dict[str, Any]:
    """ComponentUsageSerializer's output, field for field and in its order."""
    modified_by = row[18]
    return {
        "uuid": row[0].hex,
        "created": row[1],
        "description": _str(row[2]),
        "type": _str(row[3]),
        "name": _str(row[4]),
        "measured_unit": _str(row[5]),
        "usage": _AMOUNT.to_representation(row[6]),
        "date": row[7],
        "recurring": bool(row[8]),
        **_named(row, 9),
        "billing_period": row[17].isoformat(),
        "modified_by": None if modified_by is None else int(modified_by),
    }


def component_usages(request: Request) -> SqlRows | None:
    """The page source for `/api/marketplace-component-usages/`, or None for the generic path."""
    return _page(
        request,
        COMPONENT_USAGE_FILTERS,
        columns=_COMPONENT_USAGE_COLUMNS,
        tables=f"{_USAGE} u {_USAGE_JOINS}",
        order_by="u.date DESC, oc.type ASC, u.id ASC",
        render=_component_usage,
    )


# --- per-user usages ------------------------------------------------------------------------------

USER_USAGE_FILTERS: dict[str, Parser] = {
    "resource_uuid": _uuids("r.uuid"),
    "component_usage__billing_period": _day("u.billing_period"),
    "component_usage_uuid": _uuids("u.uuid"),
    "type": _text("oc.type"),
}

_USER_USAGE_COLUMNS = (
    Column("uu.uuid", ComponentUserUsage, "uuid"),
    Column("usr.uuid", User, "uuid"),
    Column("uu.username", ComponentUserUsage, "username"),
    Column("u.uuid", ComponentUsage, "uuid"),
    Column("uu.usage", ComponentUserUsage, "usage"),
    Column("oc.measured_unit", OfferingComponent, "measured_unit"),
    Column("uu.description", ComponentUserUsage, "description"),
    Column("uu.created", ComponentUserUsage, "created"),
    Column("uu.modified", ComponentUserUsage, "modified"),
    Column("uu.backend_id", ComponentUserUsage, "backend_id"),
    *_NAMED,
    Column("oc.type", OfferingComponent, "type"),
    Column("u.date", ComponentUsage, "date"),
    Column("u.billing_period", ComponentUsage, "billing_period"),
)


def _user_usage(request: Request) -> Callable[[tuple[Any, ...]], dict[str, Any]]:
    def render(row: tuple[Any, ...]) -> dict[str, Any]:
        """ComponentUserUsageSerializer's output, field for field and in its order."""
        user = row[1]
        return {
            "uuid": row[0].hex,
            "user": None if user is None else absolute_url(request, "user-detail", uuid=user.hex),
            "username": _str(row[2]),
            "component_usage": absolute_url(request, "marketplace-component-usage-detail", uuid=row[3].hex),
            "usage": _AMOUNT.to_representation(row[4]),
            "measured_unit": _str(row[5]),
            "description": _str(row[6]),
            "created": row[7],
            "modified": row[8],
            "backend_id": _str(row[9]),
            **_named(row, 10),
            "component_type": _str(row[18]),
            "date": row[19],
            "billing_period": row[20].isoformat(),
        }

    return render


def user_usages(request: Request) -> SqlRows | None:
    """The page source for `/api/marketplace-component-user-usages/`, or None for the generic path."""
    return _page(
        request,
        USER_USAGE_FILTERS,
        columns=_USER_USAGE_COLUMNS,
        tables=(
            f"{_USER_USAGE} uu JOIN {_USAGE} u ON u.id = uu.component_usage_id {_USAGE_JOINS}"
            f" LEFT JOIN {_USER} usr ON usr.id = uu.user_id"
        ),
        order_by="u.date DESC, oc.type ASC, uu.username ASC, uu.id ASC",
        render=_user_usage(request),
    )
