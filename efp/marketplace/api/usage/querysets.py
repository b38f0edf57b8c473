"""What a usage row's representation reads, in the same query."""

from __future__ import annotations

from django.db.models import F, QuerySet

from efp.marketplace.models import ComponentUsage, ComponentUserUsage


def _named(*relations: str) -> list[str]:
    """The columns a usage row shows of each related object: its name and uuid."""
    return [f"{relation}__{column}" for relation in relations for column in ("name", "uuid")]


# The related objects a page of usage rows shows, and the columns it reads (names and uuids: a resource
# and its offering carry large JSON columns that no usage row shows).
USAGE_RELATIONS = ("resource__offering", "resource__project__customer")


USAGE_COLUMNS = (
    "uuid", "created", "description", "usage", "date", "recurring", "billing_period", "modified_by_id",
    "component__type", "component__name", "component__measured_unit",
    *_named("resource", "resource__offering", "resource__project", "resource__project__customer"),
)  # fmt: skip


def component_usage_queryset(qs: QuerySet[ComponentUsage], *, page: bool = False) -> QuerySet[ComponentUsage]:
    """Usage rows with what their serializer reads; a `page` of them reads only the columns it shows."""
    if page:
        return qs.select_related("component", *USAGE_RELATIONS).only(*USAGE_COLUMNS)
    return qs.select_related("component", "resource__offering__customer", "resource__project__customer")


def user_usage_queryset(qs: QuerySet[ComponentUserUsage]) -> QuerySet[ComponentUserUsage]:
    """Per-user usage rows with what their serializer shows of the usage record, its resource, offering,
    project and organisation, as columns of the row itself."""
    usage, resource = "component_usage", "component_usage__resource"
    return qs.annotate(
        user_uuid=F("user__uuid"),
        component_usage_uuid=F(f"{usage}__uuid"),
        usage_date=F(f"{usage}__date"),
        billing_period=F(f"{usage}__billing_period"),
        component_type=F(f"{usage}__component__type"),
        measured_unit=F(f"{usage}__component__measured_unit"),
        **{
            f"{name}_{column}": F(f"{path}__{column}")
            for name, path in (
                ("resource", resource),
                ("offering", f"{resource}__offering"),
                ("project", f"{resource}__project"),
                ("customer", f"{resource}__project__customer"),
            )
            for column in ("name", "uuid")
        },
    )
