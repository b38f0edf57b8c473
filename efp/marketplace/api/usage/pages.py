"""The usage lists a site agent reads for every resource on every sync, as hand-written SQL.

`GET /api/marketplace-component-usages/?resource_uuid=R&billing_period=M` and
`GET /api/marketplace-component-user-usages/?resource_uuid=R&component_usage__billing_period=M` (both
with `field=`) are what waldur-site-agent asks before it reports a resource's usage. Through django-filter,
the ORM and a serializer, such a page of two or three rows cost four times what the database spends on
it; here it is one query (efp.rest.sqlrows). Each page is one table of fields (JSON key, SQL expression,
model field, JSON writer) from which the SELECT list and the rendering are made.

A request is answered here only when it is a GET whose query keys are all known below and every value is
well formed; anything else (other filters, `o`, HEAD, a malformed uuid or date, a repeated date) returns
None and goes the generic way, which also writes the 400s. Rows, order, visibility
(`selectors.usage_visibility_sql`) and rendering are those of the generic path: test_usage_pages.py
sends the same requests both ways, for every persona, and compares status, headers and bodies.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.db import connection
from rest_framework import serializers
from rest_framework.request import Request

from efp.accounts.authentication import TOKEN_QUERY_PARAM
from efp.accounts.models import User
from efp.marketplace import selectors
from efp.marketplace.models import ComponentUsage, ComponentUserUsage, Offering, OfferingComponent, Resource
from efp.rest.filters import plain_date, plain_uuids
from efp.rest.sqlrows import (
    Fields,
    PageField,
    SqlRows,
    as_is,
    flag,
    hex_uuid,
    integer,
    iso_date,
    link,
    representation,
    text,
)
from efp.structure.models import Customer, Project

Condition = tuple[str, list[Any]]


Parser = Callable[[list[str]], Condition | None]


# Read elsewhere, as on the generic path: the page by the pagination, the token by authentication, the
# format by DRF's content negotiation (`?format=csv` streams the same fields, efp.rest.csv_export).
NOT_FILTERS = frozenset({"page", "page_size", TOKEN_QUERY_PARAM, "format"})


# Up to this many visible resources, a page reads their usage rows and sorts them (a consumer's few); with
# more (a provider's offerings, staff), it walks the index of its order and stops at the page.
FEW_RESOURCES = 500


def usage_field(**kwargs: Any) -> serializers.DecimalField:
    """Usage amounts: decimal strings with 2 places, at most 18 digits before the point."""
    return serializers.DecimalField(max_digits=20, decimal_places=2, **kwargs)


_AMOUNT = representation(usage_field(read_only=True))


def _amount_or_null(value: Any, request: Any) -> str | None:
    return None if value is None else _AMOUNT(value, request)


def _uuids(column: str) -> Parser:
    """MultipleUUIDFilter: repeated keys or comma lists, dashed or hex."""

    def parse(values: list[str]) -> Condition | None:
        keys = plain_uuids(values)
        if keys is None:
            return None
        prep = Resource._meta.get_field("uuid").get_db_prep_value
        return f"{column} IN ({', '.join(['%s'] * len(keys))})", [prep(key, connection) for key in keys]

    return parse


def _day(column: str) -> Parser:
    """DateFilter, for the one format every date input accepts alike."""

    def parse(values: list[str]) -> Condition | None:
        day = plain_date(values)
        if day is None:
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
    request: Request, filters: dict[str, Parser], *, fields: Fields, tables: str, order_by: str
) -> SqlRows | None:
    """The rows `request` asks for, among those its user may see (usage record table aliased `u`)."""
    query = _parse(request, filters)
    if query is None:
        return None
    few = selectors.few_usage_resources(request.user, FEW_RESOURCES)
    if few is None:  # staff, or a provider: walk the order's index, testing each row's offering and project
        visible, params = selectors.usage_visibility_sql(request.user, "u")
    elif few:  # a few resources: their rows, sorted
        visible, params = f"u.resource_id IN ({', '.join(['%s'] * len(few))})", list(few)
    else:
        visible, params = "1 = 0", []
    clauses = [visible]
    for sql, values in query.conditions:
        clauses.append(sql)
        params = [*params, *values]
    return SqlRows(
        fields=fields,
        from_where=f"FROM {tables} WHERE {' AND '.join(clauses)}",
        params=params,
        order_by=order_by,
        request=request,
        only=query.fields,
    )


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


# What a usage row shows of its resource, offering, project and organisation: each one's name and uuid.
_NAMED = (
    PageField("resource_name", "r.name", Resource, "name", text),
    PageField("resource_uuid", "r.uuid", Resource, "uuid", hex_uuid),
    PageField("offering_name", "o.name", Offering, "name", text),
    PageField("offering_uuid", "o.uuid", Offering, "uuid", hex_uuid),
    PageField("project_name", "p.name", Project, "name", text),
    PageField("project_uuid", "p.uuid", Project, "uuid", hex_uuid),
    PageField("customer_name", "c.name", Customer, "name", text),
    PageField("customer_uuid", "c.uuid", Customer, "uuid", hex_uuid),
)


# The sum of a usage row's per-user rows (NULL when it has none), as `querysets.with_users_usage`.
_USERS_USAGE = f"(SELECT SUM(uus.usage) FROM {_USER_USAGE} uus WHERE uus.component_usage_id = u.id)"  # noqa: S608


COMPONENT_USAGE_FILTERS: dict[str, Parser] = {
    "resource_uuid": _uuids("r.uuid"),
    "billing_period": _day("u.billing_period"),
    "type": _text("oc.type"),
}


# ComponentUsageSerializer, field for field and in its order (test_usage_pages checks both).
COMPONENT_USAGE_FIELDS = Fields(
    PageField("uuid", "u.uuid", ComponentUsage, "uuid", hex_uuid),
    PageField("created", "u.created", ComponentUsage, "created", as_is),
    PageField("description", "u.description", ComponentUsage, "description", text),
    PageField("type", "oc.type", OfferingComponent, "type", text),
    PageField("name", "oc.name", OfferingComponent, "name", text),
    PageField("measured_unit", "oc.measured_unit", OfferingComponent, "measured_unit", text),
    PageField("usage", "u.usage", ComponentUsage, "usage", _AMOUNT),
    PageField("date", "u.date", ComponentUsage, "date", as_is),
    PageField("recurring", "u.recurring", ComponentUsage, "recurring", flag),
    *_NAMED,
    PageField("billing_period", "u.billing_period", ComponentUsage, "billing_period", iso_date),
    PageField("modified_by", "u.modified_by_id", ComponentUsage, "modified_by", integer),
    PageField("users_usage", _USERS_USAGE, ComponentUserUsage, "usage", _amount_or_null),
    PageField(
        "users_exceed_usage", f"(COALESCE({_USERS_USAGE}, 0) > u.usage)", ComponentUsage, "recurring", flag
    ),
)


def component_usages(request: Request) -> SqlRows | None:
    """The page source for `/api/marketplace-component-usages/`, or None for the generic path."""
    return _page(
        request,
        COMPONENT_USAGE_FILTERS,
        fields=COMPONENT_USAGE_FIELDS,
        tables=f"{_USAGE} u {_USAGE_JOINS}",
        order_by="u.date DESC, u.component_type ASC, u.id ASC",
    )


USER_USAGE_FILTERS: dict[str, Parser] = {
    "resource_uuid": _uuids("r.uuid"),
    "component_usage__billing_period": _day("u.billing_period"),
    "component_usage_uuid": _uuids("u.uuid"),
    "type": _text("oc.type"),
}


# ComponentUserUsageSerializer, field for field and in its order (test_usage_pages checks both).
USER_USAGE_FIELDS = Fields(
    PageField("uuid", "uu.uuid", ComponentUserUsage, "uuid", hex_uuid),
    PageField("user", "usr.uuid", User, "uuid", link("user-detail")),
    PageField("username", "uu.username", ComponentUserUsage, "username", text),
    PageField(
        "component_usage", "u.uuid", ComponentUsage, "uuid", link("marketplace-component-usage-detail")
    ),
    PageField("usage", "uu.usage", ComponentUserUsage, "usage", _AMOUNT),
    PageField("measured_unit", "oc.measured_unit", OfferingComponent, "measured_unit", text),
    PageField("description", "uu.description", ComponentUserUsage, "description", text),
    PageField("created", "uu.created", ComponentUserUsage, "created", as_is),
    PageField("modified", "uu.modified", ComponentUserUsage, "modified", as_is),
    PageField("backend_id", "uu.backend_id", ComponentUserUsage, "backend_id", text),
    *_NAMED,
    PageField("component_type", "oc.type", OfferingComponent, "type", text),
    PageField("date", "u.date", ComponentUsage, "date", as_is),
    PageField("billing_period", "u.billing_period", ComponentUsage, "billing_period", iso_date),
)


def user_usages(request: Request) -> SqlRows | None:
    """The page source for `/api/marketplace-component-user-usages/`, or None for the generic path."""
    return _page(
        request,
        USER_USAGE_FILTERS,
        fields=USER_USAGE_FIELDS,
        tables=(
            f"{_USER_USAGE} uu JOIN {_USAGE} u ON u.id = uu.component_usage_id {_USAGE_JOINS}"
            f" LEFT JOIN {_USER} usr ON usr.id = uu.user_id"
        ),
        order_by="u.date DESC, u.component_type ASC, u.id ASC, uu.username ASC, uu.id ASC",
    )
