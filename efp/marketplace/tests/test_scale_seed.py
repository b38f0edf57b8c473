"""`efp seed-scale` at a small size: the shape `make bench` relies on, consistent with the services."""

from __future__ import annotations

import itertools
import uuid
from decimal import Decimal
from io import StringIO
from typing import Any

from django.core.management import call_command
from django.db import IntegrityError, connection, transaction
from django.db.models import F, Q, Sum
from django.test import TestCase
from django.utils import timezone
from rest_framework.test import APIClient

from bench import scale_seed
from bench.scale_seed.bulk import insert
from bench.scale_seed.history import EVENT_COLUMNS
from efp.marketplace import coverage
from efp.marketplace.billing_months import billing_period_of
from efp.marketplace.models import (
    ComponentMonthTotal,
    ComponentUsage,
    ComponentUserUsage,
    ListTally,
    Offering,
    Order,
    OrderEvent,
    Resource,
    ResourceEvent,
    ResourcePlanPeriod,
    UsageRevision,
)
from efp.marketplace.services import month_totals
from efp.marketplace.services.tallies import recount as recount_tallies
from efp.marketplace.states import ORDER_TRANSITIONS, RESOURCE_TRANSITIONS, OrderState, ResourceState
from efp.marketplace.tests.test_coverage_months import live_counted
from efp.marketplace.tests.test_coverage_months import maintained as coverage_maintained
from efp.marketplace.tests.test_coverage_months import recount as coverage_recount
from efp.marketplace.tests.test_limit_usage import maintained as limit_usage_maintained
from efp.marketplace.tests.test_limit_usage import recount as limit_usage_recount


def _moves_outside_the_table(
    events: Any, table: dict[Any, frozenset[Any]], model: Any
) -> set[tuple[str, str]]:
    """The (old_state, new_state) pairs of `events` that are neither a move of `table` nor the creation
    event the services write (old_state "", new_state the model's initial state)."""
    created = ("", str(model._meta.get_field("state").default))
    allowed = {created} | {(str(old), str(new)) for old, targets in table.items() for new in targets}
    return set(events.values_list("old_state", "new_state").distinct()) - allowed


RS = ResourceState
TALLY_FIELDS = [f.attname for f in ListTally._meta.concrete_fields if not f.primary_key]
RESOURCE_EVENT_COLUMNS = ["resource_id", "old_state", "new_state", "actor_id", "reason", "created"]


def _schema_of_bulk_tables() -> set[tuple[str, ...]]:
    """Every index, constraint and column default of the tables the seed loads in bulk."""
    tables = [model._meta.db_table for model in scale_seed.BULK_TABLES]
    with connection.cursor() as cursor:
        if connection.vendor == "sqlite":
            marks = ", ".join("%s" for _ in tables)
            query = f"SELECT type, name, sql FROM sqlite_master WHERE tbl_name IN ({marks})"  # noqa: S608
            cursor.execute(query, tables)
            return {tuple(row) for row in cursor.fetchall()}
        cursor.execute(
            "SELECT 'index', indexname, indexdef FROM pg_indexes WHERE tablename = ANY(%s) "
            "UNION ALL SELECT 'constraint', conname, pg_get_constraintdef(oid) FROM pg_constraint "
            "WHERE conrelid::regclass::text = ANY(%s) "
            "UNION ALL SELECT 'default', table_name || '.' || column_name, column_default "
            "FROM information_schema.columns WHERE table_name = ANY(%s) AND column_default IS NOT NULL",
            [tables, tables, tables],
        )
        return {tuple(row) for row in cursor.fetchall()}


def _tallies_and_totals() -> tuple[set[tuple[Any, ...]], set[tuple[Any, ...]]]:
    totals = ComponentMonthTotal.objects.filter(rows__gt=0)
    return (
        set(ListTally.objects.values_list(*TALLY_FIELDS)),
        set(totals.values_list("component_id", "billing_period", "usage", "rows")),
    )


class ScaleSeedTests(TestCase):
    @classmethod
    def setUpTestData(cls) -> None:
        cls.output = StringIO()
        cls.schema_before = _schema_of_bulk_tables()
        call_command("seed_scale", resources=120, months=3, users_per_resource=2, stdout=cls.output)

    def test_it_leaves_every_index_constraint_and_default_as_the_migrations_made_them(self) -> None:
        # On PostgreSQL the load drops the bulk tables' indexes and unique constraints and lends their uuid
        # columns a database default; afterwards the schema is the migrations' again, name for name.
        assert len(self.schema_before) > 40
        assert _schema_of_bulk_tables() == self.schema_before
        # And the unique constraints hold again (COPY runs on psycopg's cursor: its error is psycopg's).
        refused: type[Exception] = IntegrityError
        if connection.vendor == "postgresql":
            from psycopg.errors import UniqueViolation

            refused = UniqueViolation
        usage = ComponentUserUsage.objects.first()
        assert usage is not None
        with self.assertRaisesRegex(refused, "(?i)unique"), transaction.atomic():
            insert(ComponentUserUsage, ["component_usage_id", "username", "usage", "uuid"],
                   [(usage.component_usage_id, usage.username, 1, uuid.uuid4())])  # fmt: skip

    def test_it_reports_progress_and_the_counts(self) -> None:
        text = self.output.getvalue()
        steps = scale_seed.Progress.steps
        assert f"[1/{steps}]" in text and f"[{steps}/{steps}]" in text and "Seeded 120 resources" in text

    def test_it_writes_nothing_the_second_time(self) -> None:
        before = (Resource.objects.count(), Order.objects.count(), ComponentUserUsage.objects.count())
        again = StringIO()
        call_command("seed_scale", resources=120, stdout=again)
        assert "Already seeded: 120 resources" in again.getvalue()
        assert (Resource.objects.count(), Order.objects.count(), ComponentUserUsage.objects.count()) == before

    def test_it_makes_about_two_orders_per_resource_in_every_state_the_services_produce(self) -> None:
        assert 200 <= Order.objects.count() <= 260
        states = set(Order.objects.values_list("state", flat=True))
        # pending-start-date: no service moves an order there yet.
        assert states == {s.value for s in OrderState} - {OrderState.PENDING_START_DATE}

    def test_it_leaves_each_order_and_resource_in_the_state_of_its_last_event(self) -> None:
        for order in Order.objects.prefetch_related("events"):
            events = sorted(order.events.all(), key=lambda e: (e.created, e.pk))
            assert events[0].old_state == "" and events[0].reason == "created"
            assert events[-1].new_state == order.state, order
            for before, after in itertools.pairwise(events):
                assert before.new_state == after.old_state, order
        for resource in Resource.objects.prefetch_related("events"):
            events = sorted(resource.events.all(), key=lambda e: (e.created, e.pk))
            assert events[-1].new_state == resource.state, resource
        assert OrderEvent.objects.count() > Order.objects.count()
        assert ResourceEvent.objects.count() >= Resource.objects.count()

    def test_it_writes_only_the_moves_the_transition_tables_allow(self) -> None:
        # The seed writes the lifecycle in bulk, past the services' guard (docs/performance.md): every
        # event pair it writes, the bench's order supply included, must be one the services could write.
        scale_seed.pending_order_supply(3)
        # The check sees the variety of the seed (every order state it produces, see below).
        assert len(set(OrderEvent.objects.values_list("old_state", "new_state"))) >= 8
        assert len(set(ResourceEvent.objects.values_list("old_state", "new_state"))) >= 8
        assert _moves_outside_the_table(OrderEvent.objects, ORDER_TRANSITIONS, Order) == set()
        assert _moves_outside_the_table(ResourceEvent.objects, RESOURCE_TRANSITIONS, Resource) == set()

    def test_it_would_notice_a_move_the_tables_do_not_have(self) -> None:
        order = Order.objects.filter(state=OrderState.DONE).first()
        resource = Resource.objects.filter(state=ResourceState.TERMINATED).first()
        assert order is not None and resource is not None
        now = timezone.now()
        bad_order = (order.pk, OrderState.DONE, OrderState.PENDING_PROVIDER, None, "reopened", now)
        insert(OrderEvent, EVENT_COLUMNS, [bad_order, (order.pk, "", OrderState.DONE, None, "created", now)])
        bad_resource = (resource.pk, RS.TERMINATED, RS.OK, None, "revived", now)
        insert(ResourceEvent, RESOURCE_EVENT_COLUMNS, [bad_resource])
        assert _moves_outside_the_table(OrderEvent.objects, ORDER_TRANSITIONS, Order) == {
            (OrderState.DONE, OrderState.PENDING_PROVIDER),
            ("", OrderState.DONE),
        }
        assert _moves_outside_the_table(ResourceEvent.objects, RESOURCE_TRANSITIONS, Resource) == {
            (RS.TERMINATED, RS.OK)
        }

    def test_it_gives_usage_only_to_resources_that_came_up_with_plan_periods(self) -> None:
        never_up = Resource.objects.filter(backend_id="")
        assert never_up.exists()
        assert not ComponentUsage.objects.filter(resource__in=never_up).exists()
        assert not ResourcePlanPeriod.objects.filter(resource__in=never_up).exists()
        assert not ComponentUsage.objects.filter(plan_period__isnull=True).exists()
        for usage in ComponentUsage.objects.select_related("plan_period")[:200]:
            assert usage.billing_period == billing_period_of(usage.date)
            assert usage.plan_period.start <= usage.date
            assert usage.plan_period.resource_id == usage.resource_id

    def test_it_gives_each_usage_record_its_resources_offering_and_project(self) -> None:
        assert ComponentUsage.objects.exists()
        assert not ComponentUsage.objects.filter(Q(offering__isnull=True) | Q(project__isnull=True)).exists()
        assert not ComponentUsage.objects.exclude(
            offering=F("resource__offering"), project=F("resource__project")
        ).exists()

    def test_it_gives_each_resource_the_sort_names_the_services_write(self) -> None:
        assert Resource.objects.exists()
        assert not Resource.objects.exclude(
            sort_customer_name=F("project__customer__name"), sort_project_name=F("project__name")
        ).exists()

    def test_it_splits_each_total_among_the_projects_users(self) -> None:
        totals = ComponentUsage.objects.annotate(users=Sum("user_usages__usage"))
        assert all(row.users == row.usage for row in totals)
        assert ComponentUserUsage.objects.count() == 2 * ComponentUsage.objects.count()
        revisions = UsageRevision.objects.count()
        assert revisions == ComponentUsage.objects.count() + ComponentUserUsage.objects.count()
        current = billing_period_of(timezone.now())
        reporting = Resource.objects.filter(state=ResourceState.OK).exclude(current_usages={})
        assert reporting.exists()
        for resource in reporting[:30]:
            month = ComponentUsage.objects.filter(resource=resource, billing_period=current).select_related(
                "component"
            )
            assert resource.current_usages == {u.component.type: float(u.usage) for u in month}
            assert all(isinstance(v, float) for v in resource.current_usages.values())
        assert Decimal(0) < ComponentUsage.objects.aggregate(s=Sum("usage"))["s"]

    def test_it_gives_the_provider_a_token_that_lists_its_orders(self) -> None:
        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION=f"Token {scale_seed.provider_token(1)}")
        response = client.get("/api/marketplace-orders/?state=pending-provider&page_size=50")
        assert response.status_code == 200
        provider = Resource.objects.filter(offering__customer__slug="scale-provider-1")
        expected = Order.objects.filter(resource__in=provider, state=OrderState.PENDING_PROVIDER).count()
        assert int(response["X-Result-Count"]) == expected > 0
        resources = client.get("/api/marketplace-provider-resources/?page_size=50")
        assert int(resources["X-Result-Count"]) == provider.count()

    def test_it_leaves_the_list_tallies_counting_what_it_wrote(self) -> None:
        # Bulk writes skip the tally's triggers on PostgreSQL; the seed recounts once at the end.
        counted = dict(ListTally.objects.values_list("kind").annotate(total=Sum("count")).order_by())
        assert counted == {
            ListTally.Kind.COMPONENT_USAGE: ComponentUsage.objects.count(),
            ListTally.Kind.USER_USAGE: ComponentUserUsage.objects.count(),
            ListTally.Kind.ORDER: Order.objects.count(),
            ListTally.Kind.RESOURCE: Resource.objects.count(),
        }

    def test_it_leaves_the_list_tallies_and_monthly_totals_as_a_recount_would(self) -> None:
        # On PostgreSQL the seed loads with the triggers off and recounts; on SQLite the triggers ran.
        tallies, totals = _tallies_and_totals()
        assert tallies and totals
        recount_tallies()
        month_totals.recount()
        assert _tallies_and_totals() == (tallies, totals)

    def test_it_leaves_the_coverage_counts_as_the_coverage_rule_counts(self) -> None:
        # The bulk load goes around the services that keep them; the seed recounts them at the end.
        reported = coverage_recount()
        assert reported  # the seeded allocations report usage
        assert coverage_maintained() == reported
        for offering in Offering.objects.all():
            for month in sorted({month for _, month in reported}):
                live = Resource.objects.filter(coverage.live_in(month), offering=offering).count()
                assert live_counted(offering, month) == live

    def test_it_leaves_usage_against_limits_as_metering_computes_it(self) -> None:
        # The bulk load goes around the services that store it; the seed recounts it at the end.
        today = timezone.localdate()
        expected = limit_usage_recount(today)
        assert expected  # every seeded allocation has a storage limit
        assert limit_usage_maintained(today) == expected
