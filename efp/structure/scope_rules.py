"""What an API token limited to one offering may do: read that offering and what hangs off it, and make the
calls Waldur's site agent makes for it (report usage, process its orders, keep its resources, offering users
and agent identity). Everything else is refused, the token endpoints included.

Read through `efp.structure.access` (the one entry point of access rules); enforced on every API request by
`efp.structure.token_scope.TokenScope`, after the user's own permissions are what they always were: a scope
only narrows them.

Each route (a viewset's basename) names:
- `model` and `to_offering`: the model its `<uuid>` names and the lookup from it to its offering's key; an
  object of another offering answers 404, as if it were not there;
- `actions`: the actions allowed; any other answers 403;
- `pins`: for a list answered by hand-written SQL, the query parameters that narrow it to the offering: one
  must be given, and every value must belong to the offering (403 otherwise); every other list is narrowed
  to the offering's rows (`narrowed`, through `to_offering`), whatever its filters;
- `open`: list-level actions allowed without a pin (`/api/users/me/`).
A list-level write names its target in the body (`SCOPED_BODY_TARGETS`): it must be the offering's.

The structure app does not import the marketplace: models are looked up through the app registry.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, TypeVar

from django.apps import apps
from django.db.models import Model, QuerySet

M = TypeVar("M", bound=Model)


@dataclass(frozen=True)
class ScopedRoute:
    model: str
    to_offering: str
    actions: frozenset[str]
    pins: tuple[str, ...] = ()
    open: frozenset[str] = frozenset()


def _route(model: str, to_offering: str, actions: str, pins: str = "", open: str = "") -> ScopedRoute:
    return ScopedRoute(
        model, to_offering, frozenset(actions.split()), tuple(pins.split()), frozenset(open.split())
    )


OFFERING, RESOURCE = "offering_uuid", "resource_uuid"
READ = "list retrieve"

SCOPED_ROUTES: dict[str, ScopedRoute] = {
    "user": _route("", "", "me", open="me"),
    "marketplace-public-offering": _route("Offering", "id", "retrieve plan plans"),
    "marketplace-provider-offering": _route(
        "Offering",
        "id",
        "retrieve check_unique_backend_id create_offering_component list_course_accounts "
        "list_project_service_accounts",
    ),
    "marketplace-plan": _route("Plan", "offering_id", READ),
    "marketplace-service-provider": _route("ServiceProvider", "customer__offerings__id", f"{READ} keys"),
    "marketplace-order": _route(
        "Order",
        "offering_id",
        f"{READ} offering resource approve_by_provider reject_by_provider set_backend_id "
        "set_state_executing set_state_done set_state_erred",
    ),
    "marketplace-provider-resource": _route(
        "Resource",
        "offering_id",
        f"{READ} details offering plan_periods team refresh_last_sync set_as_erred set_as_ok set_backend_id "
        "set_backend_metadata set_endpoints set_limits set_membership_sync_statuses set_state_ok",
    ),
    "marketplace-resource": _route("Resource", "offering_id", f"{READ} details offering plan_periods team"),
    "marketplace-component-usage": _route(
        "ComponentUsage",
        "resource__offering_id",
        f"{READ} revisions set_usage set_user_usage set_user_usages",
        pins=f"{OFFERING} {RESOURCE}",
    ),
    "marketplace-component-user-usage": _route(
        "ComponentUserUsage", "component_usage__resource__offering_id", READ, pins=f"{OFFERING} {RESOURCE}"
    ),
    "component-user-usage-limit": _route("ComponentUserUsageLimit", "resource__offering_id", READ),
    "marketplace-usage-report": _route("", "", "list", pins=OFFERING),
    "marketplace-usage-coverage": _route("", "", "list", pins=OFFERING),
    "marketplace-offering-user": _route(
        "OfferingUser",
        "offering_id",
        f"{READ} create partial_update begin_creating set_ok set_error_creating set_pending_account_linking "
        "set_pending_additional_validation set_validation_complete set_deleting set_deleted "
        "set_error_deleting",
    ),
    "marketplace-site-agent-identity": _route(
        "AgentIdentity",
        "offering_id",
        f"{READ} create update partial_update register_service register_queue",
    ),
    "marketplace-site-agent-service": _route(
        "AgentService", "identity__offering_id", f"{READ} register_processor"
    ),
    "marketplace-site-agent-processor": _route("AgentProcessor", "service__identity__offering_id", READ),
}

# A query parameter that pins a list: (model, lookup from it to the offering's key).
PINS: dict[str, tuple[str, str]] = {
    OFFERING: ("Offering", "id"),
    RESOURCE: ("Resource", "offering_id"),
    "customer_uuid": ("structure.Customer", "offerings__id"),
}

# List-level writes: the body fields naming their target (one must be given), as PINS do.
SCOPED_BODY_TARGETS: dict[tuple[str, str], dict[str, tuple[str, str]]] = {
    ("marketplace-component-usage", "set_usage"): {
        "resource": ("Resource", "offering_id"),
        "plan_period": ("ResourcePlanPeriod", "resource__offering_id"),
    },
    ("marketplace-offering-user", "create"): {"offering": ("Offering", "id")},
    ("marketplace-site-agent-identity", "create"): {"offering": ("Offering", "id")},
}

NOT_FOUND = "not found"


def _model(name: str) -> Any:
    return apps.get_model(name if "." in name else f"marketplace.{name}")


def _key(value: Any) -> uuid.UUID | None:
    """A uuid (dashed or hex) or a URL ending in one, as the API accepts them; None for anything else."""
    text = str(value).strip().rstrip("/").rsplit("/", 1)[-1]
    try:
        return uuid.UUID(text)
    except ValueError:
        return None


def _all_belong(offering_id: int, target: tuple[str, str], keys: list[uuid.UUID | None]) -> bool:
    """Are all `keys` (at least one, each a uuid) objects of `target` that belong to the offering?"""
    if not keys or None in keys:
        return False
    model, to_offering = target
    wanted = set(keys)
    found = _model(model).objects.filter(uuid__in=wanted, **{to_offering: offering_id})
    return found.values("uuid").distinct().count() == len(wanted)


def _query_keys(values: list[str]) -> list[uuid.UUID | None]:
    return [_key(part) for value in values for part in value.split(",") if part.strip()]


def refusal(
    *,
    offering_id: int,
    basename: str | None,
    action: str | None,
    lookup: str | None,
    query: Any,
    body: Any,
) -> str | None:
    """Why a token limited to the offering `offering_id` may not make this request (NOT_FOUND: the object
    named is not the offering's), or None. `query` is the request's QueryDict, `lookup` the `<uuid>` of a
    detail route."""
    route = SCOPED_ROUTES.get(basename or "")
    if route is None or action not in route.actions:
        return "This token is limited to one offering: it may only read it and make a site agent's calls."
    if lookup is not None:
        key = _key(lookup)
        if key is None:
            return NOT_FOUND
        ours = _model(route.model).objects.filter(uuid=key, **{route.to_offering: offering_id})
        return None if ours.exists() else NOT_FOUND
    if action in route.open:
        return None
    targets = SCOPED_BODY_TARGETS.get((basename or "", action or ""))
    if targets is not None:
        named = [field for field in targets if isinstance(body, Mapping) and body.get(field)]
        if named and all(_all_belong(offering_id, targets[field], [_key(body[field])]) for field in named):
            return None
        return f"This token is limited to one offering: name it in {' or '.join(repr(f) for f in targets)}."
    if not route.pins and route.model:
        return None  # the list is narrowed to the offering's rows (`narrowed`)
    given = [pin for pin in route.pins if _query_keys(query.getlist(pin))]
    if given and all(_all_belong(offering_id, PINS[pin], _query_keys(query.getlist(pin))) for pin in given):
        return None
    return f"This token is limited to one offering: narrow the list with {' or '.join(route.pins)}."


def narrowed(queryset: QuerySet[M], *, offering_id: int, basename: str | None) -> QuerySet[M]:
    """The rows of a list (of the route's own model) that are the offering's; a list of another model
    (a view's helper query) is left to the checks above."""
    route = SCOPED_ROUTES.get(basename or "")
    if route is None or not route.model:
        return queryset.none()
    if queryset.model is not _model(route.model):
        return queryset
    return queryset.filter(**{route.to_offering: offering_id})
