"""The floor of `make bench`: each page fetched with one hand-written SQL query and serialised with `json`.

A bare WSGI app served by gunicorn exactly like the API (2 workers). One query per request does all of
it: the token lookup, the provider's visibility rule, the filters, the page with every related row the
API shows, and the total count for X-Result-Count.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterable
from typing import Any
from urllib.parse import parse_qs

import psycopg

# Tokens are stored as the SHA-256 of the key (efp.accounts.services.digest_of).
ME = (
    "(SELECT user_id FROM accounts_apitoken WHERE revoked IS NULL"
    " AND digest = encode(sha256(convert_to(%(token)s, 'UTF8')), 'hex'))"
)
MY_CUSTOMERS = f"(SELECT customer_id FROM structure_customerrole WHERE user_id = {ME})"
MY_OFFERINGS = f"(SELECT offering_id FROM marketplace_offeringrole WHERE user_id = {ME})"
MY_PROJECTS = f"(SELECT project_id FROM structure_projectrole WHERE user_id = {ME})"
PROVIDER_SIDE = f"(off.customer_id IN {MY_CUSTOMERS} OR off.id IN {MY_OFFERINGS})"

ORDER_FROM = f"""
FROM marketplace_order o
JOIN marketplace_offering off ON off.id = o.offering_id
JOIN structure_customer pc ON pc.id = off.customer_id
LEFT JOIN marketplace_serviceprovider sp ON sp.customer_id = pc.id
JOIN marketplace_category cat ON cat.id = off.category_id
JOIN structure_project p ON p.id = o.project_id
JOIN structure_customer c ON c.id = p.customer_id
LEFT JOIN marketplace_plan pl ON pl.id = o.plan_id
LEFT JOIN marketplace_plan opl ON opl.id = o.old_plan_id
LEFT JOIN marketplace_resource r ON r.id = o.resource_id
LEFT JOIN accounts_user cb ON cb.id = o.created_by_id
LEFT JOIN accounts_user crb ON crb.id = o.consumer_reviewed_by_id
LEFT JOIN accounts_user prb ON prb.id = o.provider_reviewed_by_id
WHERE o.state = ANY(%(states)s) AND (%(offering)s::uuid IS NULL OR off.uuid = %(offering)s::uuid)
  AND (o.project_id IN {MY_PROJECTS} OR p.customer_id IN {MY_CUSTOMERS} OR {PROVIDER_SIDE})
"""
ORDERS = f"""
SELECT o.uuid, o.type, o.state, o.attributes, o.limits, o.cost, o.old_cost, o.callback_url, o.request_comment,
  o.start_date, o.termination_comment, o.backend_id, o.output, o.error_message, o.error_updated_at,
  o.completed_at, o.consumer_reviewed_at, o.consumer_rejection_comment, o.provider_reviewed_at,
  o.provider_rejection_comment, o.created, o.modified,
  off.uuid AS offering_uuid, off.name AS offering_name, off.description AS offering_description,
  off.type AS offering_type, off.terms_of_service AS offering_terms_of_service,
  off.shared AS offering_shared, off.billable AS offering_billable, off.plugin_options AS offering_plugin_options,
  pc.name AS provider_name, pc.uuid AS provider_uuid, pc.slug AS provider_slug,
  sp.description AS provider_description, cat.title AS category_title, cat.uuid AS category_uuid,
  pl.uuid AS plan_uuid, pl.name AS plan_name, pl.unit AS plan_unit, pl.description AS plan_description,
  opl.uuid AS old_plan_uuid, opl.name AS old_plan_name, r.uuid AS marketplace_resource_uuid,
  COALESCE(r.name, o.attributes->>'name') AS resource_name,
  cb.uuid AS created_by_uuid, cb.username AS created_by_username,
  cb.first_name || ' ' || cb.last_name AS created_by_full_name, cb.civil_number AS created_by_civil_number,
  cb.email AS created_by_email, cb.organization AS created_by_organization,
  crb.username AS consumer_reviewed_by, crb.first_name || ' ' || crb.last_name AS consumer_reviewed_by_full_name,
  prb.username AS provider_reviewed_by, prb.first_name || ' ' || prb.last_name AS provider_reviewed_by_full_name,
  c.name AS customer_name, c.uuid AS customer_uuid, c.slug AS customer_slug,
  p.name AS project_name, p.uuid AS project_uuid, p.description AS project_description, p.slug AS project_slug,
  (SELECT count(*) {ORDER_FROM}) AS total
{ORDER_FROM}
ORDER BY o.created, o.id LIMIT %(limit)s
"""

RESOURCE_FROM = f"""
FROM marketplace_resource r
JOIN marketplace_offering off ON off.id = r.offering_id
JOIN structure_customer pc ON pc.id = off.customer_id
LEFT JOIN marketplace_serviceprovider sp ON sp.customer_id = pc.id
JOIN marketplace_category cat ON cat.id = off.category_id
JOIN structure_project p ON p.id = r.project_id
JOIN structure_customer c ON c.id = p.customer_id
LEFT JOIN marketplace_plan pl ON pl.id = r.plan_id
WHERE {PROVIDER_SIDE} AND (%(resource)s::uuid IS NULL OR r.uuid = %(resource)s::uuid)
"""
RESOURCE_FIELDS = """
  r.uuid, r.name, r.slug, r.description, r.state, r.backend_id, r.effective_id, r.attributes, r.limits,
  r.current_usages, r.options, r.backend_metadata, r.report, r.end_date, r.error_message, r.downscaled,
  r.restrict_member_access, r.paused, r.last_sync, r.created, r.modified,
  off.uuid AS offering_uuid, off.name AS offering_name, off.slug AS offering_slug,
  off.description AS offering_description, off.type AS offering_type, off.state AS offering_state,
  off.backend_id AS offering_backend_id, off.terms_of_service AS offering_terms_of_service,
  off.shared AS offering_shared, off.billable AS offering_billable, off.plugin_options AS offering_plugin_options,
  pc.name AS provider_name, pc.uuid AS provider_uuid, pc.slug AS provider_slug,
  sp.description AS provider_description, cat.title AS category_title, cat.uuid AS category_uuid,
  pl.uuid AS plan_uuid, pl.name AS plan_name, pl.unit AS plan_unit, pl.description AS plan_description,
  p.uuid AS project_uuid, p.name AS project_name, p.description AS project_description, p.slug AS project_slug,
  p.end_date AS project_end_date, c.uuid AS customer_uuid, c.name AS customer_name, c.slug AS customer_slug,
  (SELECT json_agg(json_build_object('uuid', oc.uuid, 'type', oc.type, 'name', oc.name,
     'description', oc.description, 'measured_unit', oc.measured_unit, 'billing_type', oc.billing_type,
     'limit_period', oc.limit_period, 'limit_amount', oc.limit_amount, 'min_value', oc.min_value,
     'max_value', oc.max_value, 'max_available_limit', oc.max_available_limit,
     'default_limit', oc.default_limit, 'is_boolean', oc.is_boolean, 'article_code', oc.article_code,
     'unit_factor', oc.unit_factor, 'factor', oc.factor, 'is_prepaid', oc.is_prepaid) ORDER BY oc.id)
   FROM marketplace_offeringcomponent oc WHERE oc.offering_id = off.id) AS offering_components,
  EXISTS (SELECT 1 FROM marketplace_order ao WHERE ao.resource_id = r.id AND ao.state = ANY(
    ARRAY['pending-consumer', 'pending-provider', 'pending-project', 'pending-start-date', 'executing']))
    AS has_active_order,
  (SELECT json_object_agg(t.type, t.total) FROM (SELECT oc.type, sum(u.usage) AS total
     FROM marketplace_componentusage u JOIN marketplace_offeringcomponent oc ON oc.id = u.component_id
     WHERE u.resource_id = r.id AND oc.billing_type = 'limit' GROUP BY oc.type) t) AS limit_usage
"""
RESOURCES = f"""
SELECT {RESOURCE_FIELDS}, (SELECT count(*) {RESOURCE_FROM}) AS total
{RESOURCE_FROM}
ORDER BY r.created, r.id LIMIT %(limit)s
"""
RESOURCES_SPARSE = f"""
SELECT r.uuid, r.name, r.slug, r.state, r.backend_id, r.limits, off.uuid AS offering_uuid,
  p.uuid AS project_uuid, c.uuid AS customer_uuid, (SELECT count(*) {RESOURCE_FROM}) AS total
{RESOURCE_FROM}
ORDER BY r.created, r.id LIMIT %(limit)s
"""

USAGE_FROM = f"""
FROM marketplace_componentusage u
JOIN marketplace_offeringcomponent oc ON oc.id = u.component_id
JOIN marketplace_resource r ON r.id = u.resource_id
JOIN marketplace_offering off ON off.id = r.offering_id
JOIN structure_project p ON p.id = r.project_id
JOIN structure_customer c ON c.id = p.customer_id
WHERE r.uuid = %(resource)s::uuid AND u.billing_period = %(period)s::date
  AND ({PROVIDER_SIDE} OR r.project_id IN {MY_PROJECTS} OR p.customer_id IN {MY_CUSTOMERS})
"""
USAGES = f"""
SELECT u.uuid, u.created, u.description, oc.type, oc.name, oc.measured_unit, u.usage, u.date, u.recurring,
  r.name AS resource_name, r.uuid AS resource_uuid, off.name AS offering_name, off.uuid AS offering_uuid,
  p.name AS project_name, p.uuid AS project_uuid, c.name AS customer_name, c.uuid AS customer_uuid,
  u.billing_period, u.modified_by_id AS modified_by, (SELECT count(*) {USAGE_FROM}) AS total
{USAGE_FROM}
ORDER BY u.date DESC, oc.type, u.id LIMIT %(limit)s
"""

USER_USAGE_FROM = f"""
FROM marketplace_componentuserusage uu
JOIN marketplace_componentusage u ON u.id = uu.component_usage_id
JOIN marketplace_offeringcomponent oc ON oc.id = u.component_id
JOIN marketplace_resource r ON r.id = u.resource_id
JOIN marketplace_offering off ON off.id = r.offering_id
JOIN structure_project p ON p.id = r.project_id
JOIN structure_customer c ON c.id = p.customer_id
LEFT JOIN accounts_user usr ON usr.id = uu.user_id
WHERE r.uuid = %(resource)s::uuid
  AND ({PROVIDER_SIDE} OR r.project_id IN {MY_PROJECTS} OR p.customer_id IN {MY_CUSTOMERS})
"""
USER_USAGES = f"""
SELECT uu.uuid, usr.uuid AS user_uuid, uu.username, u.uuid AS component_usage_uuid, uu.usage,
  oc.measured_unit, uu.description, uu.created, uu.modified, uu.backend_id, r.name AS resource_name,
  r.uuid AS resource_uuid, off.name AS offering_name, off.uuid AS offering_uuid, p.name AS project_name,
  p.uuid AS project_uuid, c.name AS customer_name, c.uuid AS customer_uuid, oc.type AS component_type,
  u.date, u.billing_period, (SELECT count(*) {USER_USAGE_FROM}) AS total
{USER_USAGE_FROM}
ORDER BY u.date DESC, oc.type, uu.username, uu.id LIMIT %(limit)s
"""

QUERIES = {
    "orders": ORDERS,
    "resources": RESOURCES,
    "resources_sparse": RESOURCES_SPARSE,
    "usages": USAGES,
    "user_usages": USER_USAGES,
}

_connection: psycopg.Connection[Any] | None = None


def _db() -> psycopg.Connection[Any]:
    global _connection
    if _connection is None or _connection.closed:
        _connection = psycopg.connect(os.environ["BENCH_FLOOR_DSN"], autocommit=True)
    return _connection


def _token(environ: dict[str, Any]) -> str:
    header = str(environ.get("HTTP_AUTHORIZATION", ""))
    return header.split(" ", 1)[1] if " " in header else ""


def app(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
    query = parse_qs(environ.get("QUERY_STRING", ""))
    kind = environ.get("PATH_INFO", "/").strip("/").split("/")[-1]
    if kind not in QUERIES:
        start_response("404 Not Found", [("Content-Type", "text/plain")])
        return [b"unknown floor"]
    params = {
        "token": _token(environ),
        "states": query.get("state", ["pending-provider"]),
        "offering": query.get("offering_uuid", [None])[0],
        "resource": query.get("resource_uuid", [None])[0],
        "period": query.get("billing_period", [None])[0],
        "limit": int(query.get("page_size", ["10"])[0]),
    }
    with _db().cursor() as cursor:
        cursor.execute(QUERIES[kind], params)
        names = [column.name for column in cursor.description or ()]
        rows = [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]
    total = rows[0].pop("total") if rows else 0
    for row in rows[1:]:
        row.pop("total")
    if kind == "resources" and query.get("uuid"):
        body = json.dumps(rows[0] if rows else {}, default=str).encode()
    else:
        body = json.dumps(rows, default=str).encode()
    start_response(
        "200 OK",
        [("Content-Type", "application/json"), ("X-Result-Count", str(total)), ("X-Query-Count", "1")],
    )
    return [body]
