"""What a usage row's representation reads, in the same query."""

from __future__ import annotations

from django.db.models import BooleanField, ExpressionWrapper, F, OuterRef, Q, QuerySet, Subquery, Sum, Value
from django.db.models.functions import Coalesce

from efp.marketplace.models import ComponentUsage, ComponentUserUsage, UsageRevision


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


def _users_usage() -> Subquery:
    """The sum of a usage record's per-user rows (NULL when it has none)."""
    rows = ComponentUserUsage.objects.filter(component_usage=OuterRef("pk")).order_by()
    return Subquery(rows.values("component_usage").annotate(total=Sum("usage")).values("total")[:1])


def with_users_usage(qs: QuerySet[ComponentUsage]) -> QuerySet[ComponentUsage]:
    """`users_usage` and `users_exceed_usage` (the users add up to more than the month's total)."""
    return qs.annotate(users_usage=_users_usage()).annotate(
        users_exceed_usage=ExpressionWrapper(
            Q(
                usage__lt=Coalesce(
                    F("users_usage"), Value(0), output_field=ComponentUsage._meta.get_field("usage")
                )
            ),
            output_field=BooleanField(),
        )
    )


def component_usage_queryset(qs: QuerySet[ComponentUsage], *, page: bool = False) -> QuerySet[ComponentUsage]:
    """Usage rows with what their serializer reads; a `page` of them reads only the columns it shows."""
    if page:
        return with_users_usage(qs.select_related("component", *USAGE_RELATIONS).only(*USAGE_COLUMNS))
    related = ("component", "resource__offering__customer", "resource__project__customer")
    return with_users_usage(qs.select_related(*related))


def revision_queryset(usage: ComponentUsage) -> QuerySet[UsageRevision]:
    """A usage record's revisions, oldest first, with who wrote each."""
    return (
        UsageRevision.objects.filter(component_usage_id=usage.pk)
        .select_related("actor")
        .order_by("created", "pk")
    )


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
