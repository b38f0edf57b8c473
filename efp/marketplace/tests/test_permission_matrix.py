"""The API permission matrix: every endpoint and action, for every persona, → the status it must answer.

Read a row against the contract: §2.1 (roles and permissions), §2.2 (visibility), §1.6 (the order of
checks: 401 unauthenticated, 404 not visible, 403 visible but not allowed, then 400/409, then 2xx). The
personas and objects are described in matrix_world.py; columns follow MATRIX_PERSONAS.

Each cell runs in its own savepoint, rolled back afterwards, so every cell sees the world as built. A route
of the URL conf (each HTTP method of each viewset action) without a row fails
`test_it_has_a_row_for_every_route`: a new endpoint cannot go unchecked. `LISTS` checks which rows each
persona's lists show: the outsider's are empty, and neither provider sees the other's rows.
HEAD is served by the GET handler (DRF maps it; the route test checks that) and is run for the list rows,
where it answers the count. OPTIONS (DRF metadata) is left out.
"""
# ruff: noqa: E501  (the tables read best one row a line)

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any
from unittest import mock

from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import resolve
from django.utils import timezone
from drf_spectacular.generators import SchemaGenerator
from rest_framework.test import APIClient

from efp.accounts.models import ApiToken
from efp.accounts.services import digest_of
from efp.hooks import services as hook_services
from efp.invoices import services as invoice_services
from efp.marketplace.billing_months import billing_period_of, current_month
from efp.marketplace.offering_user_states import OFFERING_USER_VERBS
from efp.marketplace.tests.factories import make_token
from efp.marketplace.tests.matrix_world import MATRIX_PERSONAS, MatrixWorld, Row, fill, routes

ORD = "/api/marketplace-orders"
PUB = "/api/marketplace-public-offerings"
PROV = "/api/marketplace-provider-offerings"
RES = "/api/marketplace-resources"
PRES = "/api/marketplace-provider-resources"
CU = "/api/marketplace-component-usages"
CUU = "/api/marketplace-component-user-usages"
AGENT = "/api/marketplace-site-agent-identities"
OU = "/api/marketplace-offering-users"
UL = "/api/component-user-usage-limits"

ORDER_BODY = {
    "project": "{project_url}",
    "offering": "{offering_url}",
    "plan": "{plan_url}",
    "attributes": {"name": "new-alloc"},
    "limits": {"storage": 5},
}
OFFERING_BODY = {
    "name": "Offering N",
    "customer": "{provider_p_url}",
    "category": "{category_url}",
    "type": "Marketplace.Basic",
}
COMPONENT_BODY = {"type": "ram", "name": "RAM", "billing_type": "usage", "measured_unit": "GB-hours"}
USAGE_BODY = {"resource": "{resource}", "usages": [{"type": "cpu", "amount": "7.50"}]}
LIMIT_BODY = {
    "resource": "{resource_url}",
    "component": "{gpu}",
    "user": "{offering_user_bob_url}",
    "limit": "20",
}
HOOK_BODY = {"destination_url": "http://93.184.215.14/hook/", "event_groups": ["users"]}
EMAIL_HOOK_BODY = {"email": "ops@example.org", "event_groups": ["users"]}
# A usage CSV of one line for this month's CPU of the resource, applied at once (multipart, see `call`).
IMPORT_BODY = {
    "file": "resource_uuid,component,month,amount\n{resource},cpu,{{this_month}},6.5\n",
    "dry_run": "false",
}

# fmt: off
# The orders: order_pc is pending the consumer (bob asked), order_pp and order_basic are pending the provider,
# order_ex is executing, order_err erred (its resource has a backend id, so it may be retried).
API: list[Row] = [
    #    method    path                                              anon out mem pm padm cown om pown other staff
    Row("GET",    f"{ORD}/",                                          "401 200 200 200 200 200 200 200 200 200"),
    Row("POST",   f"{ORD}/",                                          "401 400 201 201 201 201 400 400 400 201", ORDER_BODY,
        note="the project is looked up among the visible ones: who cannot see it gets 400 on `project`"),
    Row("GET",    f"{ORD}/{{order_pp}}/",                             "401 404 200 200 200 200 200 200 404 200"),
    Row("PUT",    f"{ORD}/{{order_pp}}/",                             "401 404 405 405 405 405 405 405 404 405", {}),
    Row("PATCH",  f"{ORD}/{{order_pp}}/",                             "401 404 405 405 405 405 405 405 404 405", {}),
    Row("DELETE", f"{ORD}/{{order_pp}}/",                             "401 404 403 204 204 204 403 403 404 204"),
    Row("POST",   f"{ORD}/{{order_pc}}/approve_by_consumer/",         "401 404 403 403 403 200 403 403 404 200"),
    Row("POST",   f"{ORD}/{{order_pc}}/reject_by_consumer/",          "401 404 200 403 403 200 403 403 404 200",
        note="bob created the order, and its creator may withdraw it"),
    Row("POST",   f"{ORD}/{{order_pp}}/approve_by_provider/",         "401 404 403 403 403 403 200 200 404 200"),
    Row("POST",   f"{ORD}/{{order_pp}}/reject_by_provider/",          "401 404 403 403 403 403 200 200 404 200"),
    Row("POST",   f"{ORD}/{{order_basic}}/cancel/",                   "401 404 403 202 202 202 403 403 404 202"),
    Row("POST",   f"{ORD}/{{order_pp}}/set_state_executing/",         "401 404 403 403 403 403 200 200 404 200"),
    Row("POST",   f"{ORD}/{{order_ex}}/set_state_done/",              "401 404 403 403 403 403 200 200 404 200"),
    Row("POST",   f"{ORD}/{{order_ex}}/set_state_erred/",             "401 404 403 403 403 403 200 200 404 200"),
    Row("POST",   f"{ORD}/{{order_err}}/retry/",                      "401 404 403 403 403 403 200 200 404 200"),
    Row("POST",   f"{ORD}/{{order_ex}}/set_backend_id/",              "401 404 403 403 403 403 200 200 404 200",
        {"backend_id": "job-1"}),
    Row("POST",   f"{ORD}/{{order_pp}}/unlink/",                      "401 404 403 403 403 403 403 403 404 204"),
    Row("GET",    f"{ORD}/{{order_pp}}/resource/",                  "401 404 200 200 200 200 200 200 404 200"),
    Row("GET",    f"{ORD}/{{order_pp}}/offering/",                    "401 404 200 200 200 200 200 200 404 200"),

    Row("GET",    f"{PUB}/",                                        "401 200 200 200 200 200 200 200 200 200"),
    Row("GET",    f"{PUB}/{{offering}}/",                           "401 200 200 200 200 200 200 200 200 200"),
    Row("GET",    f"{PUB}/{{offering}}/plans/",                     "401 200 200 200 200 200 200 200 200 200"),
    Row("GET",    f"{PUB}/{{offering}}/plans/{{plan}}/",            "401 200 200 200 200 200 200 200 200 200"),
    Row("GET",    f"{PROV}/",                                       "401 200 200 200 200 200 200 200 200 200"),
    Row("POST",   f"{PROV}/",                                       "401 403 403 403 403 403 403 403 403 201", OFFERING_BODY),
    Row("GET",    f"{PROV}/{{offering}}/",                          "401 404 404 404 404 404 200 200 404 200"),
    Row("POST",   f"{PROV}/{{offering}}/create_offering_component/", "401 404 404 404 404 404 403 403 404 201",
        COMPONENT_BODY),
    Row("POST",   f"{PROV}/{{offering}}/check_unique_backend_id/",  "401 404 404 404 404 404 200 200 404 200",
        {"backend_id": "hpc_alpha"}),
    Row("GET",    f"{PROV}/{{offering}}/list_project_service_accounts/", "401 404 404 404 404 404 200 200 404 200"),
    Row("GET",    f"{PROV}/{{offering}}/list_course_accounts/",     "401 404 404 404 404 404 200 200 404 200"),
    Row("POST",   f"{PROV}/{{offering}}/add_partition/",            "401 404 404 404 404 404 201 201 404 201",
        {"partition_name": "gpu", "max_time": 60}),
    Row("PATCH",  f"{PROV}/{{offering}}/update_partition/",         "401 404 404 404 404 404 200 200 404 200",
        {"partition_uuid": "{partition}", "max_time": 60}),
    Row("POST",   f"{PROV}/{{offering}}/remove_partition/",         "401 404 404 404 404 404 204 204 404 204",
        {"partition_uuid": "{partition}"}),
    Row("GET",    "/api/marketplace-plans/",                        "401 200 200 200 200 200 200 200 200 200"),
    Row("POST",   "/api/marketplace-plans/",                        "401 403 403 403 403 403 403 403 403 201",
        {"offering": "{offering_url}", "name": "Gold"}),
    Row("GET",    "/api/marketplace-plans/{plan}/",                 "401 200 200 200 200 200 200 200 200 200"),
    Row("GET",    "/api/marketplace-categories/",                   "401 200 200 200 200 200 200 200 200 200"),
    Row("POST",   "/api/marketplace-categories/",                   "401 403 403 403 403 403 403 403 403 201",
        {"title": "Storage"}),
    Row("GET",    "/api/marketplace-categories/{category}/",        "401 200 200 200 200 200 200 200 200 200"),
    Row("GET",    "/api/marketplace-service-providers/",            "401 200 200 200 200 200 200 200 200 200"),
    Row("GET",    "/api/marketplace-service-providers/{service_provider}/keys/",
                                                                    "401 403 403 403 403 403 200 200 403 200",
        note="the SSH keys of the provider's users: for those who work for the provider"),
    Row("GET",    "/api/marketplace-service-providers/{service_provider}/",
                                                                    "401 200 200 200 200 200 200 200 200 200"),

    # Consumer resources: the project's side only (§2.2); the provider gets 404 here.
    Row("GET",    f"{RES}/",                                        "401 200 200 200 200 200 200 200 200 200"),
    Row("GET",    f"{RES}/{{resource}}/",                           "401 404 200 200 200 200 404 404 404 200"),
    Row("POST",   f"{RES}/{{resource}}/terminate/",                 "401 404 403 200 200 200 404 404 404 200", {}),
    Row("POST",   f"{RES}/{{resource}}/restore/",                   "401 404 403 403 403 403 404 404 404 409", {},
        note="the provider's owner restores (RESOURCE.SET_STATE on the offering's side); `resource` is OK: 409"),
    Row("POST",   f"{RES}/{{resource}}/update_limits/",             "401 404 403 200 200 200 404 404 404 200",
        {"limits": {"storage": 20}}),
    Row("POST",   f"{RES}/{{resource}}/switch_plan/",               "401 404 403 200 200 200 404 404 404 200",
        {"plan": "{premium_url}"}),
    Row("POST",   f"{RES}/{{resource}}/renew/",                     "401 404 403 200 200 200 404 404 404 200",
        {"extension_months": 2, "justification": "More time"}),
    Row("PATCH",  f"{RES}/{{resource}}/",                           "401 404 403 200 200 200 404 404 404 200",
        {"end_date": "2099-01-01"}, note="only end_date; those who may terminate the resource"),
    Row("POST",   f"{RES}/{{resource}}/set_end_date_by_staff/",     "401 404 403 403 403 403 404 404 404 200",
        {"end_date": "2099-01-01"}),
    Row("GET",    f"{RES}/{{resource}}/plan_periods/",              "401 404 200 200 200 200 404 404 404 200"),
    Row("GET",    f"{RES}/{{resource}}/team/",                      "401 404 200 200 200 200 404 404 404 200"),
    Row("GET",    f"{RES}/{{resource}}/offering/",                  "401 404 200 200 200 200 404 404 404 200"),
    Row("GET",    f"{RES}/{{resource}}/details/",                   "401 404 404 404 404 404 404 404 404 404",
        note="no resource has a backend scope here: 404 once visible"),

    # Provider resources: the offering's organisation and offering managers only (§2.2).
    Row("GET",    f"{PRES}/",                                       "401 200 200 200 200 200 200 200 200 200"),
    Row("GET",    f"{PRES}/{{resource}}/",                          "401 404 404 404 404 404 200 200 404 200"),
    Row("POST",   f"{PRES}/{{resource}}/terminate/",                "401 404 404 404 404 404 403 200 404 200", {}),
    Row("POST",   f"{PRES}/{{resource}}/restore/",                  "401 404 404 404 404 404 403 409 404 409", {},
        note="only the provider's owners (RESOURCE.SET_STATE); `resource` is OK, not Terminated: 409"),
    Row("POST",   f"{PRES}/{{resource}}/set_backend_id/",           "401 404 404 404 404 404 200 200 404 200",
        {"backend_id": "acc-1"}),
    Row("POST",   f"{PRES}/{{resource}}/set_limits/",               "401 404 404 404 404 404 200 200 404 200",
        {"limits": {"storage": 30}}),
    Row("POST",   f"{PRES}/{{resource}}/set_backend_metadata/",     "401 404 404 404 404 404 200 200 404 200",
        {"backend_metadata": {"runtime_state": "RUNNING"}}),
    Row("POST",   f"{PRES}/{{resource}}/submit_report/",            "401 404 404 404 404 404 200 200 404 200",
        {"report": [{"header": "Q1", "body": "fine"}]},
        note="oscar holds CUSTOMER.MANAGER on provider P through his offering role"),
    Row("POST",   f"{PRES}/{{resource}}/set_end_date_by_provider/", "401 404 404 404 404 404 200 200 404 200",
        {"end_date": "2099-01-01"}),
    Row("POST",   f"{PRES}/{{resource}}/set_as_erred/",             "401 404 404 404 404 404 200 200 404 200", {}),
    Row("POST",   f"{PRES}/{{resource_erred}}/set_as_ok/",          "401 404 404 404 404 404 200 200 404 200"),
    Row("POST",   f"{PRES}/{{resource_erred}}/set_state_ok/",       "401 404 404 404 404 404 200 200 404 200"),
    Row("POST",   f"{PRES}/{{resource}}/refresh_last_sync/",        "401 404 404 404 404 404 200 200 404 200"),
    Row("POST",   f"{PRES}/{{resource}}/unlink/",                   "401 404 404 404 404 404 403 403 404 204"),
    Row("GET",    f"{PRES}/{{resource}}/plan_periods/",             "401 404 404 404 404 404 200 200 404 200"),
    Row("GET",    f"{PRES}/{{resource}}/team/",                     "401 404 404 404 404 404 200 200 404 200"),
    Row("GET",    f"{PRES}/{{resource}}/offering/",                 "401 404 404 404 404 404 200 200 404 200"),
    Row("GET",    f"{PRES}/{{resource}}/details/",                  "401 404 404 404 404 404 404 404 404 404"),

    Row("POST",   f"{PRES}/{{resource}}/set_endpoints/",            "401 404 404 404 404 404 200 200 404 200",
        {"endpoints": [{"name": "portal", "url": "https://portal.example.org"}]}),

    # The site agent's own endpoints: the offering's provider side sees them; OFFERING.UPDATE writes (§2.1).
    Row("POST",   f"{PRES}/{{resource}}/set_membership_sync_statuses/", "401 404 404 404 404 404 409 409 404 409",
        {"statuses": [{"scope_type": "resource", "role_name": "member", "state": "synced", "username": "bob_o"}]},
        note="the offering has not opted in with enable_membership_sync_status: 409 once allowed"),
    Row("GET",    f"{AGENT}/",                                      "401 200 200 200 200 200 200 200 200 200"),
    Row("POST",   f"{AGENT}/",                                      "401 400 400 400 400 400 201 201 400 201",
        {"offering": "{offering}", "name": "agent-o2"},
        note="the offering is looked up among those the user manages: others get 400 on `offering`"),
    Row("GET",    f"{AGENT}/{{agent_o}}/",                          "401 404 404 404 404 404 200 200 404 200"),
    Row("PUT",    f"{AGENT}/{{agent_o}}/",                          "401 404 404 404 404 404 200 200 404 200",
        {"offering": "{offering}", "name": "agent-o", "version": "1.0.7"}),
    Row("PATCH",  f"{AGENT}/{{agent_o}}/",                          "401 405 405 405 405 405 405 405 405 405",
        {"offering": "{offering}", "name": "agent-o", "version": "1.0.8"}, note="routed, but only PUT updates"),
    Row("DELETE", f"{AGENT}/{{agent_o}}/",                          "401 404 404 404 404 404 204 204 404 204"),
    Row("POST",   f"{AGENT}/{{agent_o}}/register_service/",         "401 404 404 404 404 404 201 201 404 201",
        {"name": "agent-o-svc2", "mode": "membership_sync"}),
    Row("POST",   f"{AGENT}/{{agent_o}}/register_queue/",           "401 404 404 404 404 404 400 400 404 400",
        {"object_types": ["order"]},
        note="no EFP_RABBITMQ_URL in the matrix: who may register learns that agents poll (test_agent_queues.py provisions)"),
    Row("GET",    "/api/marketplace-site-agent-services/",          "401 200 200 200 200 200 200 200 200 200"),
    Row("GET",    "/api/marketplace-site-agent-services/{agent_service_o}/",
                                                                    "401 404 404 404 404 404 200 200 404 200"),
    Row("POST",   "/api/marketplace-site-agent-services/{agent_service_o}/register_processor/",
                                                                    "401 404 404 404 404 404 201 201 404 201",
        {"name": "agent-o-proc2", "backend_type": "slurm"}),
    Row("GET",    "/api/marketplace-site-agent-processors/",        "401 200 200 200 200 200 200 200 200 200"),
    Row("GET",    "/api/marketplace-site-agent-processors/{agent_processor_o}/",
                                                                    "401 404 404 404 404 404 200 200 404 200"),
    Row("GET",    f"{OU}/",                                         "401 200 200 200 200 200 200 200 200 200"),
    Row("POST",   f"{OU}/",                                         "401 400 400 400 400 400 201 201 400 201",
        {"user": "{user_out_url}", "offering": "{provider_offering_url}", "username": "dave_o"}),
    Row("GET",    f"{OU}/{{offering_user_bob}}/",                   "401 404 200 404 404 404 200 200 404 200",
        note="the provider side sees its offering users, and everyone sees their own"),
    Row("PATCH",  f"{OU}/{{offering_user_bob}}/",                   "401 404 403 404 404 404 200 200 404 200",
        {"username": "bob_o2"}, note="only the username; the person sees their own but may not rename it"),
    # The lifecycle (offering_user_states.py): bob_o is OK, so only request_deletion starts from there.
    *[Row("POST", f"{OU}/{{offering_user_bob}}/{verb}/",
          "401 404 403 404 404 404 {0} {0} 404 {0}".format("200" if verb == "request_deletion" else "409"), {})
      for verb in OFFERING_USER_VERBS],

    # Per-user limits of a resource's components: seen by both sides, written by RESOURCE.CONSUMPTION_LIMITATION
    # (the consumer's owners and project managers; Waldur refuses project administrators).
    Row("GET",    f"{UL}/",                                         "401 200 200 200 200 200 200 200 200 200"),
    Row("POST",   f"{UL}/",                                         "401 400 403 201 403 201 403 403 400 201", LIMIT_BODY,
        note="a resource one cannot see is a 400 on `resource`"),
    Row("GET",    f"{UL}/{{user_limit}}/",                          "401 404 200 200 200 200 200 200 404 200"),
    Row("PUT",    f"{UL}/{{user_limit}}/",                          "401 404 403 200 403 200 403 403 404 200",
        {**LIMIT_BODY, "component": "{cpu}"}),
    Row("PATCH",  f"{UL}/{{user_limit}}/",                          "401 404 403 200 403 200 403 403 404 200", {"limit": "12"}),
    Row("DELETE", f"{UL}/{{user_limit}}/",                          "401 404 403 204 403 204 403 403 404 204"),

    # Usage: visible to both sides (§2.2); written by the provider's owner and offering managers (§2.1).
    Row("GET",    f"{CU}/",                                         "401 200 200 200 200 200 200 200 200 200"),
    Row("GET",    f"{CU}/{{usage}}/",                               "401 404 200 200 200 200 200 200 404 200"),
    Row("POST",   f"{CU}/set_usage/",                               "401 400 403 403 403 403 201 201 400 201", USAGE_BODY,
        note="the body is validated first (§1.6): a resource one cannot see is a 400 on `resource`"),
    Row("POST",   f"{CU}/{{usage}}/set_user_usage/",                "401 404 403 403 403 403 201 201 404 201",
        {"username": "bob", "usage": "2.00"}),
    Row("POST",   f"{CU}/{{usage}}/set_user_usages/",               "401 404 403 403 403 403 201 201 404 201",
        {"usages": [{"username": "bob", "usage": "2.00"}, {"username": "erin", "usage": "1.00"}]}),
    Row("POST",   f"{CU}/{{usage}}/correct/",                       "401 404 403 403 403 403 200 200 404 200",
        {"usage": "4.00", "reason": "The scheduler counted a job twice."},
        note="this month's record: corrected by whoever may report it (services/corrections.py)"),
    Row("GET",    f"{CU}/{{usage}}/revisions/",                     "401 404 200 200 200 200 200 200 404 200"),
    Row("PATCH",  f"{PROV}/{{offering}}/",                          "401 404 404 404 404 404 403 200 404 200",
        {"usage_correction_months": 6},
        note="the correction policy: staff and the provider's owners, not the offering managers it may exclude"),
    Row("POST",   "/api/marketplace-usage-imports/",                "401 400 400 400 400 400 200 200 400 200", IMPORT_BODY,
        note="applied at once (dry_run false): a line naming a resource one may not report for is an error, so nothing is written"),
    Row("GET",    "/api/marketplace-usage-imports/template/",       "401 200 200 200 200 200 200 200 200 200",
        note="a template of the caller's own resources (none for consumers)"),
    Row("GET",    f"{CUU}/",                                        "401 200 200 200 200 200 200 200 200 200"),
    Row("GET",    f"{CUU}/{{user_usage}}/",                         "401 404 200 200 200 200 200 200 404 200"),

    # Events (Waldur's event log): an event is seen by who sees one of its scopes (`visible_events`).
    Row("GET",    "/api/marketplace-usage-coverage/",               "401 200 200 200 200 200 200 200 200 200"),
    Row("GET",    "/api/marketplace-usage-reports/",                "401 200 200 200 200 200 200 200 200 200"),
    Row("GET",    "/api/events/",                                   "401 200 200 200 200 200 200 200 200 200"),
    Row("GET",    "/api/events/{event_pc}/",                        "401 404 200 200 200 200 200 200 404 200",
        note="an order's event: its project's people and organisation, its offering's provider side"),
    Row("GET",    "/api/events/{event_grant_rita}/",                "401 404 404 404 404 200 404 404 404 200",
        note="an organisation's role event: its organisation's people (and the holder)"),
    Row("GET",    "/api/events/event_groups/",                      "401 200 200 200 200 200 200 200 200 200"),
    # The record of access (ours, `access_events`): a person's own sign-ins, tokens and role changes; staff all.
    Row("GET",    "/api/access-events/",                            "401 200 200 200 200 200 200 200 200 200"),
    Row("GET",    "/api/access-events/{event_grant_bob}/",          "401 404 200 404 404 404 404 404 404 200",
        note="bob's own role grant: bob and staff (not his project's managers or organisation's owner)"),
    Row("GET",    "/api/access-events/{event_grant_rita}/",         "401 404 404 404 404 404 404 404 404 200"),
    Row("GET",    "/api/access-events/{event_pc}/",                 "401 404 404 404 404 404 404 404 404 404",
        note="an order's event is no access event"),

    # Structure and accounts.
    Row("GET",    "/api/customers/",                                "401 200 200 200 200 200 200 200 200 200"),
    Row("POST",   "/api/customers/",                                "401 403 403 403 403 403 403 403 403 201",
        {"name": "Organisation N"}),
    Row("PUT",    "/api/customers/{org_a}/",                        "401 404 403 403 403 403 404 404 404 200", {"name": "Organisation A2"}),
    Row("PATCH",  "/api/customers/{org_a}/",                        "401 404 403 403 403 403 404 404 404 200", {"name": "Organisation A3"}),
    Row("GET",    "/api/customers/{org_a}/list_users/",             "401 404 200 200 200 200 404 404 404 200"),
    Row("POST",   "/api/customers/{org_a}/add_user/",               "401 404 403 403 403 201 404 404 404 201", {"user": "{user_out}", "role": "CUSTOMER.OWNER"}),
    Row("POST",   "/api/customers/{org_a}/update_user/",            "401 404 403 403 403 200 404 404 404 200", {"user": "{user_rita}", "role": "CUSTOMER.OWNER", "expiration_time": "2099-01-01T00:00:00Z"}),
    Row("POST",   "/api/customers/{org_a}/delete_user/",            "401 404 403 403 403 200 404 404 404 200", {"user": "{user_rita}", "role": "CUSTOMER.OWNER"}),
    Row("GET",    "/api/customers/{org_a}/",                        "401 404 200 200 200 200 404 404 404 200"),
    Row("GET",    "/api/customers/{provider_p}/",                   "401 404 404 404 404 404 200 200 404 200"),
    Row("GET",    "/api/projects/",                                 "401 200 200 200 200 200 200 200 200 200"),
    Row("POST",   "/api/projects/",                                 "401 400 403 403 403 201 400 400 400 201",
        {"name": "Project N", "customer": "{org_a_url}"},
        note="owners create projects; an organisation one cannot see is a 400 on `customer`"),
    Row("GET",    "/api/projects/{project_a1}/",                    "401 404 200 200 200 200 404 404 404 200"),
    Row("PUT",    "/api/projects/{project_a1}/",                    "401 404 403 403 403 200 404 404 404 200", {"name": "A1b", "customer": "{org_a_url}"}),
    Row("PATCH",  "/api/projects/{project_a1}/",                    "401 404 403 403 403 200 404 404 404 200", {"name": "A1c"}),
    Row("DELETE", "/api/projects/{project_a1}/",                    "401 404 403 403 403 204 404 404 404 204", note="a soft delete by an owner"),
    Row("GET",    "/api/projects/{project_a1}/list_users/",         "401 404 200 200 200 200 404 404 404 200"),
    Row("POST",   "/api/projects/{project_a1}/add_user/",           "401 404 403 403 201 201 404 404 404 201", {"user": "{user_out}", "role": "PROJECT.MEMBER"}),
    Row("POST",   "/api/projects/{project_a1}/update_user/",        "401 404 403 403 200 200 404 404 404 200", {"user": "{user_mem}", "role": "PROJECT.MEMBER", "expiration_time": "2099-01-01T00:00:00Z"}),
    Row("POST",   "/api/projects/{project_a1}/delete_user/",        "401 404 403 403 200 200 404 404 404 200", {"user": "{user_mem}", "role": "PROJECT.MEMBER"}),
    # Invoices (read-only): an organisation's for its owners; an item also for its offering's provider side.
    Row("GET",    "/api/invoices/",                                 "401 200 200 200 200 200 200 200 200 200"),
    Row("GET",    "/api/invoices/{invoice}/",                       "401 404 404 404 404 200 404 404 404 200"),
    Row("GET",    "/api/invoice-items/",                            "401 200 200 200 200 200 200 200 200 200"),
    Row("GET",    "/api/invoice-items/{invoice_item}/",             "401 404 404 404 404 200 200 200 404 200"),
    Row("GET",    "/api/users/",                                    "401 200 200 200 200 200 200 200 200 200"),
    Row("GET",    "/api/users/{user_mem}/",                              "401 404 200 404 404 404 404 404 404 200",
        note="users see themselves only; staff see everyone"),
    Row("POST",   "/api/users/",                                    "401 403 403 403 403 403 403 403 403 201",
        {"username": "newcomer", "password": "newcomer"}),
    Row("PUT",    "/api/users/{user_mem}/",                         "401 404 403 404 404 404 404 404 404 200",
        {"username": "bob", "first_name": "Robert"}, note="staff only; bob sees himself but may not edit"),
    Row("PATCH",  "/api/users/{user_mem}/",                         "401 404 403 404 404 404 404 404 404 200",
        {"first_name": "Bobby"}),
    Row("GET",    "/api/users/me/",                                 "401 200 200 200 200 200 200 200 200 200"),
    # API tokens (EFP's): each person's own, staff see and revoke all; a new one answers its key once.
    Row("GET",    "/api/api-tokens/",                               "401 200 200 200 200 200 200 200 200 200"),
    Row("POST",   "/api/api-tokens/",                               "401 201 201 201 201 201 201 201 201 201", {"name": "laptop"}),
    Row("GET",    "/api/api-tokens/{token_mem}/",                   "401 404 200 404 404 404 404 404 404 200"),
    Row("POST",   "/api/api-tokens/{token_mem}/revoke/",            "401 404 200 404 404 404 404 404 404 200"),
    # Notifications are each person's own (docs/compatibility.md); this world has none to show.
    Row("GET",    "/api/notifications/",                            "401 200 200 200 200 200 200 200 200 200"),
    Row("GET",    "/api/notifications/{order_pc}/",                 "401 404 404 404 404 404 404 404 404 404",
        note="not anyone's notification: each person's own are tested in efp/notifications/tests/test_api.py"),
    Row("POST",   "/api/notifications/{order_pc}/read/",            "401 404 404 404 404 404 404 404 404 404"),
    Row("POST",   "/api/notifications/read_all/",                   "401 200 200 200 200 200 200 200 200 200"),
    Row("GET",    "/api/notification-preferences/",                 "401 200 200 200 200 200 200 200 200 200"),
    Row("PUT",    "/api/notification-preferences/",                 "401 200 200 200 200 200 200 200 200 200", {"orders": "off"}),
    # Hooks: one's own (staff: all). carol (pown) has a web hook with a delivery and an e-mail hook.
    Row("GET",    "/api/hooks-web/",                                "401 200 200 200 200 200 200 200 200 200"),
    Row("POST",   "/api/hooks-web/",                                "401 201 201 201 201 201 201 201 201 201", HOOK_BODY,
        note="anyone signed in may subscribe to the events they can see"),
    Row("GET",    "/api/hooks-web/{hook}/",                         "401 404 404 404 404 404 404 200 404 200"),
    Row("PUT",    "/api/hooks-web/{hook}/",                         "401 404 404 404 404 404 404 200 404 200", HOOK_BODY),
    Row("PATCH",  "/api/hooks-web/{hook}/",                         "401 404 404 404 404 404 404 200 404 200", {"is_active": False}),
    Row("DELETE", "/api/hooks-web/{hook}/",                         "401 404 404 404 404 404 404 204 404 204"),
    Row("GET",    "/api/hooks-web/{hook}/deliveries/",              "401 404 404 404 404 404 404 200 404 200"),
    Row("POST",   "/api/hooks-web/{hook}/deliveries/{hook_delivery}/resend/", "401 404 404 404 404 404 404 201 404 201"),
    Row("POST",   "/api/hooks-web/{hook}/test/",                    "401 404 404 404 404 404 404 201 404 201"),
    Row("GET",    "/api/hooks-email/",                              "401 200 200 200 200 200 200 200 200 200"),
    Row("POST",   "/api/hooks-email/",                              "401 201 201 201 201 201 201 201 201 201", EMAIL_HOOK_BODY),
    Row("GET",    "/api/hooks-email/{email_hook}/",                 "401 404 404 404 404 404 404 200 404 200"),
    Row("PUT",    "/api/hooks-email/{email_hook}/",                 "401 404 404 404 404 404 404 200 404 200", EMAIL_HOOK_BODY),
    Row("PATCH",  "/api/hooks-email/{email_hook}/",                 "401 404 404 404 404 404 404 200 404 200", {"email": "noc@example.org"}),
    Row("DELETE", "/api/hooks-email/{email_hook}/",                 "401 404 404 404 404 404 404 204 404 204"),
    Row("GET",    "/api/hooks/",                                    "401 200 200 200 200 200 200 200 200 200"),
    # A path no route serves: JSON 404 for everyone, whatever the method (efp/urls.py, ApiNotFound).
    *[Row(method, "/api/nothing-here/", "404 404 404 404 404 404 404 404 404 404", body)
      for method, body in (("GET", None), ("POST", {}), ("PUT", {}), ("PATCH", {}), ("DELETE", None))],
    Row("GET",    "/api/version/",                                  "200 200 200 200 200 200 200 200 200 200"),
    Row("GET",    "/api/schema/",                                   "200 200 200 200 200 200 200 200 200 200"),
    Row("GET",    "/api/docs/",                                     "200 200 200 200 200 200 200 200 200 200"),
    Row("POST",   "/api-auth/password/",                            "200 200 200 200 200 200 200 200 200 200",
        {"username": "dave", "password": "dave"}, note="open by design: the credentials are the check"),
]
# fmt: on

# Which rows each persona's list shows (labels of `MatrixWorld.labels`). P = provider P's side (offerings O
# and B), Q = provider Q's side (offering Q); consumer organisation A buys from both.
ORDERS_O = {"order_pc", "order_pp", "order_ex", "order_err", "order_resource"}
ORDERS_P = {*ORDERS_O, "order_basic"}
ORDERS_Q = {"order_resource_q"}
RESOURCES_O = {"resource", "resource_pc", "resource_pp", "resource_ex", "resource_erred"}
RESOURCES_P = {*RESOURCES_O, "resource_basic"}
RESOURCES_Q = {"resource_q"}
USAGES_P, USAGES_Q = {"usage"}, {"usage_q"}
USER_USAGES_P, USER_USAGES_Q = {"user_usage"}, {"user_usage_q"}
SHARED_OFFERINGS = {"offering", "basic", "offering_q"}
EVERY_OFFERING = {*SHARED_OFFERINGS, "private_q"}
SHARED_PLANS = {"plan Offering O/Standard", "plan Offering O/Premium", "plan Offering B/Standard"}
SHARED_PLANS |= {"plan Offering Q/Standard"}
EVERY_PLAN = {*SHARED_PLANS, "plan Offering Q-private/Standard"}

CONSUMERS = ("mem", "pm", "padm", "cown")
LISTS: dict[str, dict[str, set[str]]] = {
    f"{ORD}/": {
        "out": set(),
        **dict.fromkeys(CONSUMERS, ORDERS_P | ORDERS_Q),
        "om": ORDERS_P,  # oscar's offering role makes him a service manager of provider P
        "pown": ORDERS_P,
        "other": ORDERS_Q,
        "staff": ORDERS_P | ORDERS_Q,
    },
    f"{RES}/": {
        "out": set(),
        **dict.fromkeys(CONSUMERS, RESOURCES_P | RESOURCES_Q),
        "om": set(),
        "pown": set(),
        "other": set(),
        "staff": RESOURCES_P | RESOURCES_Q,
    },
    f"{PRES}/": {
        "out": set(),
        **{key: set() for key in CONSUMERS},
        "om": RESOURCES_P,
        "pown": RESOURCES_P,
        "other": RESOURCES_Q,
        "staff": RESOURCES_P | RESOURCES_Q,
    },
    f"{CU}/": {
        "out": set(),
        **dict.fromkeys(CONSUMERS, USAGES_P | USAGES_Q),
        "om": USAGES_P,
        "pown": USAGES_P,
        "other": USAGES_Q,
        "staff": USAGES_P | USAGES_Q,
    },
    f"{CUU}/": {
        "out": set(),
        **dict.fromkeys(CONSUMERS, USER_USAGES_P | USER_USAGES_Q),
        "om": USER_USAGES_P,
        "pown": USER_USAGES_P,
        "other": USER_USAGES_Q,
        "staff": USER_USAGES_P | USER_USAGES_Q,
    },
    f"{AGENT}/": {
        "out": set(),
        **{key: set() for key in CONSUMERS},
        "om": {"agent_o"},
        "pown": {"agent_o"},
        "other": {"agent_q"},
        "staff": {"agent_o", "agent_q"},
    },
    f"{OU}/": {
        "out": set(),
        "mem": {"offering_user_bob"},
        "pm": set(),
        "padm": {"offering_user_erin"},
        "cown": set(),
        "om": {"offering_user_bob"},
        "pown": {"offering_user_bob"},
        "other": {"offering_user_erin"},
        "staff": {"offering_user_bob", "offering_user_erin"},
    },
    f"{PROV}/": {
        "out": set(),
        **{key: set() for key in CONSUMERS},
        "om": {"offering", "basic"},
        "pown": {"offering", "basic"},
        "other": {"offering_q", "private_q"},
        "staff": EVERY_OFFERING,
    },
    # The catalogue shows every signed-in user the shared, active offerings and their plans; a private
    # offering only to its own organisation (and staff).
    f"{PUB}/": {
        **dict.fromkeys(MATRIX_PERSONAS[1:], SHARED_OFFERINGS),
        "other": EVERY_OFFERING,
        "staff": EVERY_OFFERING,
    },
    "/api/marketplace-plans/": {
        **dict.fromkeys(MATRIX_PERSONAS[1:], SHARED_PLANS),
        "other": EVERY_PLAN,
        "staff": EVERY_PLAN,
    },
    "/api/customers/": {
        "out": set(),
        **{key: {"org_a"} for key in CONSUMERS},
        "om": {"provider_p"},
        "pown": {"provider_p"},
        "other": {"provider_q"},
        "staff": {"org_a", "provider_p", "provider_q"},
    },
    "/api/projects/": {
        "out": set(),
        **{key: {"project_a1"} for key in CONSUMERS},
        "om": set(),
        "pown": set(),
        "other": set(),
        "staff": {"project_a1"},
    },
    **{
        path: {**{persona: set() for persona in MATRIX_PERSONAS[1:]}, "pown": mine, "staff": mine}
        for path, mine in (
            ("/api/hooks-web/", {"hook"}),
            ("/api/hooks-email/", {"email_hook"}),
            ("/api/hooks/", {"hook", "email_hook"}),
        )
    },
    "/api/invoices/": {
        **{persona: set() for persona in MATRIX_PERSONAS[1:]},
        "cown": {"invoice"},
        "staff": {"invoice"},
    },
    "/api/invoice-items/": {
        **{persona: set() for persona in MATRIX_PERSONAS[1:]},
        "cown": {"invoice_item", "invoice_item_q"},
        "om": {"invoice_item"},
        "pown": {"invoice_item"},
        "other": {"invoice_item_q"},
        "staff": {"invoice_item", "invoice_item_q"},
    },
    "/api/api-tokens/": {
        **{persona: {f"token_{persona}"} for persona in MATRIX_PERSONAS[1:]},
        "staff": {f"token_{persona}" for persona in MATRIX_PERSONAS[1:]},
    },
    "/api/users/": {
        **{persona: {f"user_{persona}"} for persona in MATRIX_PERSONAS[1:]},
        "staff": {"user_rita"} | {f"user_{persona}" for persona in MATRIX_PERSONAS[1:]},
    },
}
# fmt: on


@contextmanager
def schema_generated_once() -> Iterator[None]:
    """/api/schema/ is one document for everybody; generating it takes a second, so the cells share one."""
    cache: dict[str, Any] = {}
    original = SchemaGenerator.get_schema

    def get_schema(self: SchemaGenerator, request: Any = None, public: bool = False) -> Any:
        if "schema" not in cache:
            cache["schema"] = original(self, request=request, public=public)
        return cache["schema"]

    with mock.patch.object(SchemaGenerator, "get_schema", get_schema):
        yield


def api_routes() -> set[tuple[str, str]]:
    """(view name, method) of every API route: the REST router's and the token and schema endpoints."""
    return {(name, method) for name, method in routes() if not name.startswith("web:")}


def route_of(row: Row) -> tuple[str, str]:
    path = re.sub(r"\{\w+\}", "0" * 32, row.path)
    return resolve(path).view_name, row.method


# HEAD of a list answers the count only (X-Result-Count), through its own branch of the list view.
HEAD_ROWS = [
    Row("HEAD", row.path, row.codes)
    for row in API
    if row.method == "GET" and route_of(row)[0].endswith("-list")
]


class PermissionMatrixTests(MatrixWorld):
    @classmethod
    def setUpTestData(cls) -> None:
        super().setUpTestData()
        keys = {key: make_token(user) for key, user in cls.personas.items() if user}
        issued = {key: (ApiToken.objects.get(digest=digest_of(k)), k) for key, k in keys.items()}
        cls.tokens = {key: token_key for key, (_token, token_key) in issued.items()}
        token_labels = {token.uuid.hex: f"token_{key}" for key, (token, _token_key) in issued.items()}
        cls.names = {**cls.names, **{label: key for key, label in token_labels.items()}}
        cls.labels = {**cls.labels, **token_labels}
        hook = hook_services.create_web_hook(
            user=cls.carol, destination_url=HOOK_BODY["destination_url"], event_groups=["users"]
        )
        delivery = hook_services.send_test(hook=hook, user=cls.carol)
        email_hook = hook_services.create_email_hook(
            user=cls.carol, email="carol@example.org", event_groups=["users"]
        )
        found = {"hook": hook.uuid.hex, "hook_delivery": delivery.uuid.hex, "email_hook": email_hook.uuid.hex}
        invoice = invoice_services.refresh_month(customer=cls.org_a, month=current_month())
        assert invoice is not None
        found["invoice"] = invoice.uuid.hex
        items = {"invoice_item": cls.resource, "invoice_item_q": cls.resource_q}
        labels = {
            item.uuid.hex: label
            for label, resource in items.items()
            for item in invoice.items.filter(resource=resource)
        }
        assert set(labels.values()) == set(items)
        cls.names = {**cls.names, **found, **{label: key for key, label in labels.items()}}
        cls.labels = {**cls.labels, **{key: label for label, key in found.items()}, **labels}

    def setUp(self) -> None:
        # One client per persona: a client loads the middleware on its first request, and WhiteNoise's
        # scan of the static files made that the larger part of each cell's time.
        self.clients = {persona: APIClient() for persona in MATRIX_PERSONAS}
        for persona, token in self.tokens.items():
            self.clients[persona].credentials(HTTP_AUTHORIZATION=f"Token {token}")

    def client_of(self, persona: str) -> APIClient:
        return self.clients[persona]

    def call(self, persona: str, row: Row) -> Any:
        path = fill(row.path, self.names)
        body = fill(row.body, self.names) if row.body is not None else None
        request = getattr(self.client_of(persona), row.method.lower())
        if body is None:
            return request(path)
        if isinstance(body, dict) and isinstance(body.get("file"), str):  # an upload (usage imports)
            text = body["file"].replace("{this_month}", billing_period_of(timezone.now()).isoformat()[:7])
            upload = SimpleUploadedFile("usage.csv", text.encode(), content_type="text/csv")
            return request(path, {**body, "file": upload}, format="multipart")
        return request(path, body, format="json")

    def test_it_answers_every_cell_as_the_table_says(self) -> None:
        with schema_generated_once():
            cells, wrong = self.run_cells(API + HEAD_ROWS, self.call)
        assert cells == len(MATRIX_PERSONAS) * (len(API) + len(HEAD_ROWS))
        assert not wrong, f"{len(wrong)} of {cells} cells differ:\n" + "\n".join(wrong)

    def test_it_has_a_row_for_every_route(self) -> None:
        covered = {route_of(row) for row in API}
        missing = sorted(api_routes() - covered)
        stale = sorted(covered - api_routes())
        assert not missing, "routes without a row in the permission matrix (add them to API):\n" + "\n".join(
            f"{method} {name}" for name, method in missing
        )
        assert not stale, f"rows for routes that do not exist: {stale}"

    def test_it_shows_each_persona_only_its_own_rows(self) -> None:
        wrong = []
        for path, expected_by_persona in LISTS.items():
            assert set(expected_by_persona) == set(MATRIX_PERSONAS[1:]), path
            for persona, expected in expected_by_persona.items():
                response = self.client_of(persona).get(path, {"page_size": 200})
                assert response.status_code == 200, (path, persona, response.status_code)
                seen = {self.labels.get(item["uuid"], f"unknown {item['uuid']}") for item in response.json()}
                if seen != expected:
                    wrong.append(
                        f"GET {path} as {persona}: leaked {sorted(seen - expected)}, "
                        f"missing {sorted(expected - seen)}"
                    )
        assert not wrong, "\n".join(wrong)

    def test_it_gives_the_outsider_empty_lists(self) -> None:
        """Every list but the public catalogue's is empty for dave (the users list shows only him, and the
        tokens list only his token)."""
        public = {"marketplace-public-offering-list", "marketplace-plan-list", "marketplace-category-list"}
        public |= {"marketplace-service-provider-list", "user-list", "api-token-list"}
        lists = sorted(name for name, method in api_routes() if name.endswith("-list") and method == "GET")
        assert lists
        for name in lists:
            if name in public:
                continue
            path = next(fill(row.path, self.names) for row in API if route_of(row) == (name, "GET"))
            response = self.client_of("out").get(path)
            assert (response.status_code, response.json()) == (200, []), (name, response.status_code)
