"""The list tallies (`ListTally`) agree with counting the rows, for every persona, list and filter the
tally answers, after every kind of write; a recount gives back what the triggers kept; the lists read
their count from the tally in one statement (efp/marketplace/tallies.py, services/tallies.py). After every
kind of write, too, each usage record's copy of its resource's offering and project (`scope_of`, which the
usage lists' visibility reads) is its resource's.

The personas are those of test_access_agreement.py (16 of them, removed projects, expired roles and a
blocked organisation included): their A1 and Z1 allocations of offering O report CPU usage this month,
with two users' rows each.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from decimal import Decimal
from typing import Any
from urllib.parse import urlencode

from django.apps import apps
from django.db import connection
from django.db.models import QuerySet
from django.http import QueryDict
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from efp.marketplace import selectors, tallies
from efp.marketplace.api.orders.filters import OrderFilter
from efp.marketplace.api.resources.filters import ResourceFilter
from efp.marketplace.api.usage.filters import ComponentUsageFilter, ComponentUserUsageFilter
from efp.marketplace.billing_months import add_months, billing_period_of
from efp.marketplace.models import (
    ComponentUsage,
    ComponentUserUsage,
    ListTally,
    Offering,
    Order,
    Resource,
    scope_of,
)
from efp.marketplace.services import corrections, usage_imports
from efp.marketplace.services import orders as order_services
from efp.marketplace.services import resources as resource_services
from efp.marketplace.services import usage as usage_services
from efp.marketplace.services import user_usage as user_usage_services
from efp.marketplace.services.tallies import recount
from efp.marketplace.services.usage import UsageItem, UserUsageItem
from efp.marketplace.states import OrderState, ResourceState
from efp.marketplace.tests.factories import make_order, make_project, make_resource
from efp.marketplace.tests.test_access_agreement import AccessPersonas
from efp.rest.filters import FilterSet
from efp.structure.roles import Role
from efp.structure.services import (
    delete_user_role,
    grant_customer_role,
    grant_project_role,
    remove_project,
    update_customer,
    update_project,
)

# (name, tallied list, its base queryset for a user, its filterset): what each list view counts.
backfill_sort_names = importlib.import_module("efp.marketplace.migrations.0021_resource_sort_names").backfill

LISTS: list[tuple[str, tallies.TalliedList, Callable[[Any], QuerySet[Any]], type[FilterSet]]] = [
    ("component usages", tallies.COMPONENT_USAGES, selectors.visible_component_usages, ComponentUsageFilter),
    ("user usages", tallies.USER_USAGES, selectors.visible_component_user_usages, ComponentUserUsageFilter),
    ("orders", tallies.ORDERS, selectors.visible_orders, OrderFilter),
    ("provider resources", tallies.PROVIDER_RESOURCES, selectors.provider_resources, ResourceFilter),
    ("consumer resources", tallies.CONSUMER_RESOURCES, selectors.consumer_resources, ResourceFilter),
    ("workspace orders", tallies.WORKSPACE_ORDERS, selectors.workspace_orders, OrderFilter),
    ("workspace resources", tallies.WORKSPACE_RESOURCES, selectors.workspace_resources, ResourceFilter),
]  # fmt: skip


# (kind, the provider workspace's rows, states): what `selectors.workspace_count` answers from the tally.
RS, OS = ResourceState, OrderState
WORKSPACE_COUNTS: list[tuple[str, Callable[[Any], QuerySet[Any]], tuple[str, ...]]] = [
    ("resource", selectors.workspace_resources, (RS.OK, RS.ERRED, RS.TERMINATED)),
    ("order", selectors.workspace_orders, (OS.PENDING_PROVIDER, OS.EXECUTING, OS.DONE)),
]


def tally_rows() -> dict[tuple[Any, ...], int]:
    """The tally, without its rows at zero (a count that went up and down again)."""
    rows = ListTally.objects.exclude(count=0).values_list(
        "kind", "offering_id", "project_id", "period", "state", "count"
    )
    return {tuple(row[:5]): row[5] for row in rows}


class TallyAgreementTests(AccessPersonas):
    @classmethod
    def setUpTestData(cls) -> None:
        super().setUpTestData()
        cls.month = billing_period_of(timezone.now())
        cls.a1 = Resource.objects.get(project=cls.project_a1, offering=cls.offering, state=ResourceState.OK)
        cls.z1 = Resource.objects.get(project=cls.project_z1, offering=cls.offering, state=ResourceState.OK)
        for resource in (cls.a1, cls.z1):
            cls.report(resource, "cpu", users=("u1", "u2"))

    @classmethod
    def report(cls, resource: Resource, component: str, users: tuple[str, ...] = ()) -> ComponentUsage:
        [usage] = usage_services.set_usage(
            user=cls.staff, resource=resource, usages=[UsageItem(type=component, amount=Decimal(10))]
        )
        if users:
            user_usage_services.set_user_usages(
                user=cls.staff,
                component_usage=usage,
                items=[UserUsageItem(username=name, usage=Decimal(1)) for name in users],
            )
        return usage

    def queries(self, tallied: tallies.TalliedList) -> list[dict[str, list[str]]]:
        """Every filter combination the tally answers, over the fixture's offerings, projects, months and
        states (a month or state no row has included)."""
        offerings = [[self.offering.uuid.hex], [self.basic.uuid.hex, str(self.private.uuid)]]
        projects = [[self.project_a1.uuid.hex], [self.project_a3.uuid.hex, self.project_z1.uuid.hex]]
        found: list[dict[str, list[str]]] = [{}, {"page": ["2"], "o": ["-created"], "field": ["uuid"]}]
        found += [{"offering_uuid": keys} for keys in offerings]
        found += [{"project_uuid": keys} for keys in projects]
        found.append({"offering_uuid": offerings[0], "project_uuid": projects[0]})
        if tallied.period_key:
            months = [self.month.isoformat(), add_months(self.month, -1).isoformat()]
            found += [{tallied.period_key: [month]} for month in months]
            found.append({tallied.period_key: months[:1], "offering_uuid": offerings[0]})
        if tallied.state_key:
            waiting = [OrderState.PENDING_PROVIDER.value, OrderState.EXECUTING.value]
            some = waiting if tallied.kind == ListTally.Kind.ORDER else [ResourceState.OK.value]
            found += [
                {"state": some},
                {"state": [sorted(tallied.states)[0]]},
                {"offering_uuid": offerings[0], "state": some},  # the site agent's order poll
            ]
        return found

    def disagreements(self) -> list[str]:
        """Every persona, list and filter where the tally's count is not the list's own count."""
        found = []
        for user in self.personas:
            for name, tallied, visible, filterset in LISTS:
                for query in self.queries(tallied):
                    data = QueryDict(urlencode(query, doseq=True))
                    count = tallies.counter(tallied, user, dict(data.lists()))
                    exact = filterset(data, queryset=visible(user)).qs.count()
                    if count is None or count() != exact:
                        found.append(f"{user.username}, {name}, {query}: {count and count()} != {exact}")
                if tallied.kind in (ListTally.Kind.ORDER, ListTally.Kind.RESOURCE):
                    found += self.project_disagreement(user, name, tallied, visible(user))
            for kind, rows, states in WORKSPACE_COUNTS:  # the provider dashboard's counts per state
                for state in states:
                    counted = tallies.workspace_state_count(kind, user, state)
                    exact = rows(user).filter(state=state).count()
                    if counted != exact:
                        found.append(f"{user.username}, workspace {kind}s {state}: {counted} != {exact}")
        return found

    def project_disagreement(
        self, user: Any, name: str, tallied: tallies.TalliedList, rows: QuerySet[Any]
    ) -> list[str]:
        """The projects the tally has rows of (a GUI list's organisation choices) are the rows' projects."""
        projects = tallies.projects(tallied, user)
        with connection.cursor() as cursor:
            cursor.execute(projects.sql, list(projects.params))
            tallied_projects = {key for (key,) in cursor.fetchall()}
        exact = set(rows.values_list("project_id", flat=True))
        if tallied_projects == exact:
            return []
        return [f"{user.username}, {name}, projects: {sorted(tallied_projects)} != {sorted(exact)}"]

    def scope_disagreements(self) -> list[str]:
        """Usage records whose offering or project is not their resource's."""
        rows = ComponentUsage.objects.values_list(
            "pk", "offering_id", "project_id", "resource__offering_id", "resource__project_id"
        )
        return [
            f"usage {pk}: offering {offering}, project {project}; its resource's {of_resource}"
            for pk, offering, project, *of_resource in rows
            if [offering, project] != of_resource
        ]

    @staticmethod
    def sort_name_disagreements() -> list[Any]:
        """The resources whose stored sort key (`Resource.sort_names`) is not their organisation's and
        project's names."""
        return [
            row
            for row in Resource.objects.values_list(
                "pk", "sort_customer_name", "project__customer__name", "sort_project_name", "project__name"
            )
            if row[1] != row[2] or row[3] != row[4]
        ]

    def assert_agrees(self) -> None:
        assert self.scope_disagreements() == []
        assert self.sort_name_disagreements() == []
        assert self.disagreements() == []
        kept = tally_rows()
        recount()
        assert tally_rows() == kept

    def test_it_agrees_as_the_fixture_wrote_it(self) -> None:
        assert tally_rows()[("component_usage", self.offering.pk, self.project_a1.pk, self.month, "")] == 1
        self.assert_agrees()

    def test_it_agrees_after_a_new_component_and_a_new_month(self) -> None:
        self.report(self.a1, "gpu", users=("u1",))
        last = add_months(self.month, -1)
        for user in (self.staff,):
            usage_services.set_usage(
                user=user,
                resource=self.a1,
                usages=[UsageItem(type="cpu", amount=Decimal(3))],
                date=timezone.now().replace(year=last.year, month=last.month, day=15),
                reason="late",
            )
        self.assert_agrees()

    def test_it_agrees_after_users_rows_are_added_overwritten_and_removed(self) -> None:
        usage = self.report(self.a1, "cpu", users=("u1", "u3", "u4"))
        user_usage_services.remove_user_rows(user=self.staff, component_usage=usage, keep={"u3"})
        assert ComponentUserUsage.objects.filter(component_usage=usage).count() == 1
        self.assert_agrees()

    def test_it_agrees_after_a_correction(self) -> None:
        usage = ComponentUsage.objects.get(resource=self.z1)
        corrections.correct_usage(user=self.staff, usage=usage, amount=Decimal(2), reason="meter fixed")
        self.assert_agrees()

    def test_it_agrees_after_an_import_is_applied(self) -> None:
        month = f"{self.month:%Y-%m}"
        lines = [
            f"{self.a1.uuid.hex},gpu,{month},7,,",
            f"{self.a1.uuid.hex},gpu,{month},3,u1,",
            f"{self.z1.uuid.hex},cpu,{month},4,u2,",
        ]
        content = (
            "resource_uuid,component,month,amount,username,reason\n" + "\n".join(lines) + "\n"
        ).encode()
        preview = usage_imports.import_usage(user=self.staff, content=content)
        assert preview.summary["error"] == 0, [line.error for line in preview.lines if line.error]
        usage_imports.import_usage(user=self.staff, content=content, dry_run=False)
        self.assert_agrees()

    def test_it_agrees_along_the_order_lifecycle(self) -> None:
        waiting = make_order(self.bob, self.project_a1, self.offering, name="waits")
        order_services.approve_order_by_consumer(order=waiting, user=self.alice)
        rejected = make_order(self.bob, self.project_a1, self.offering, name="no")
        order_services.reject_order_by_consumer(order=rejected, user=self.alice)
        by_provider = make_order(self.alice, self.project_a1, self.offering, name="provider says no")
        order_services.reject_order_by_provider(order=by_provider, user=self.carol)
        canceled = make_order(self.bob, self.project_a1, self.basic, name="canceled")
        order_services.cancel_order(order=canceled, user=self.alice)
        deleted = make_order(self.bob, self.project_a1, self.basic, name="deleted")
        order_services.delete_order(order=deleted, user=self.alice)
        executing = make_order(self.alice, self.project_a1, self.offering, name="runs")
        order_services.approve_order_by_provider(order=executing, user=self.carol)
        order_services.terminate_resource(resource=self.a1, user=self.alice)
        order_services.unlink_order(order=Order.objects.get(pk=rejected.pk), user=self.staff)
        self.assert_agrees()

    def test_it_agrees_after_a_failed_creation_is_retried_and_a_terminated_resource_restored(self) -> None:
        failing = order_services.approve_order_by_provider(
            order=make_order(self.alice, self.project_a1, self.offering, name="fails"), user=self.carol
        )
        failed = order_services.fail_order(order=failing, user=self.carol, error_message="boom")
        assert Resource.objects.get(pk=failed.resource_id).state == ResourceState.ERRED
        self.assert_agrees()
        order_services.set_order_executing(order=failed, user=self.carol)
        Offering.objects.filter(pk=self.offering.pk).update(plugin_options={"can_restore_resource": True})
        back = make_resource(self.alice, self.carol, self.project_a1, self.offering, name="back")
        terminating = order_services.terminate_resource(resource=back, user=self.alice)
        terminating = order_services.approve_order_by_provider(order=terminating, user=self.carol)
        if terminating.state != OrderState.DONE:
            order_services.complete_order(order=terminating, user=self.carol)
        restoring = order_services.restore_resource(
            resource=Resource.objects.get(pk=back.pk), user=self.carol
        )
        assert Resource.objects.get(pk=back.pk).state == ResourceState.CREATING
        self.assert_agrees()
        order_services.approve_order_by_consumer(order=restoring, user=self.staff)
        self.assert_agrees()

    def test_it_agrees_after_resource_state_changes_and_an_unlink(self) -> None:
        resource_services.set_resource_erred(resource=self.z1, user=self.carol, error_message="disk")
        other = make_resource(self.alice, self.carol, self.project_a1, self.offering, name="second")
        self.report(other, "cpu", users=("u1", "u2", "u3"))
        resource_services.unlink_resource(resource=self.a1, user=self.staff)
        self.assert_agrees()

    def test_it_agrees_after_a_project_is_removed_and_roles_change(self) -> None:
        grant_customer_role(customer=self.provider_p, user=self.dave, role=Role.CUSTOMER_SUPPORT)
        grant_project_role(project=self.project_z1, user=self.bob, role=Role.PROJECT_MEMBER)
        delete_user_role(scope=self.project_a1, user=self.erin, role=Role.PROJECT_ADMIN, actor=self.staff)
        remove_project(project=self.project_a1)
        self.assert_agrees()

    def test_the_sort_names_follow_a_renamed_organisation_and_project(self) -> None:
        make_resource(self.alice, self.oscar, self.project_a1, self.offering, name="fresh")
        update_customer(customer=self.org_a, user=self.staff, name="Aardvark Labs")
        update_project(project=self.project_z1, user=self.staff, name="Zebra Renamed")
        update_project(project=self.project_a1, user=self.staff, description="no rename")
        of_a = Resource.objects.filter(project__customer=self.org_a)
        assert set(of_a.values_list("sort_customer_name", flat=True)) == {"Aardvark Labs"}
        of_z1 = Resource.objects.filter(project=self.project_z1)
        assert set(of_z1.values_list("sort_project_name", flat=True)) == {"Zebra Renamed"}
        self.assert_agrees()

    def test_the_migration_backfills_the_sort_names(self) -> None:
        Resource.objects.update(sort_customer_name=None, sort_project_name=None)  # as before migration 0021
        backfill_sort_names(apps, None)
        self.assert_agrees()

    def test_it_moves_the_counts_of_a_resource_moved_to_another_project(self) -> None:
        # Nothing moves a resource today (the admin shows its project read-only). A move would carry its
        # usage records' copy along in the same transaction; the triggers keep the counts true.
        elsewhere = make_project(self.org_a, "Project A4")
        Resource.objects.filter(pk=self.a1.pk).update(project=elsewhere, **Resource.sort_names(elsewhere))
        ComponentUsage.objects.filter(resource=self.a1).update(
            **scope_of(Resource.objects.get(pk=self.a1.pk))
        )
        z1_gpu = self.report(self.z1, "gpu")
        ComponentUserUsage.objects.filter(component_usage__resource=self.a1).update(component_usage=z1_gpu)
        self.assert_agrees()

    def test_a_recount_repairs_a_tally_that_drifted(self) -> None:
        kept = tally_rows()
        ListTally.objects.filter(kind=ListTally.Kind.ORDER).update(count=99)
        recount()
        assert tally_rows() == kept

    def test_a_workspace_count_of_a_state_the_tally_does_not_know_counts_the_rows(self) -> None:
        assert tallies.workspace_state_count("resource", self.carol, "Archived") is None
        assert selectors.workspace_count(self.carol, "resource", "Archived") == 0
        assert tallies.workspace_state_count("order", self.carol, ResourceState.OK) is None

    def test_a_filter_that_is_not_a_dimension_counts_the_rows(self) -> None:
        for name, tallied, _, _ in LISTS:
            for query in (
                {"type": ["create"]},
                {"offering_uuid": ["nope"]},
                {"state": ["gone"]},
                {"x": ["1"]},
            ):
                assert tallies.counter(tallied, self.carol, query) is None, (name, query)
        assert (
            tallies.counter(tallies.COMPONENT_USAGES, self.carol, {"billing_period": ["1.12.2026"]}) is None
        )

    def listed(self, user: Any, path: str, query: str) -> tuple[str, list[str]]:
        """`X-Result-Count` of a page of one row (so it must be counted), and the SQL the request ran."""
        client = self.as_user(user)
        with CaptureQueriesContext(connection) as captured:
            response = client.get(f"/api/{path}?page_size=1&{query}")
        assert response.status_code == 200, response.content
        return response["X-Result-Count"], [q["sql"] for q in captured.captured_queries]

    def test_the_lists_read_their_count_from_the_tally_in_one_statement(self) -> None:
        make_order(self.alice, self.project_a1, self.offering, name="waits for the provider")
        poll = f"offering_uuid={self.offering.uuid.hex}&state=pending-provider&state=executing"
        month = self.month.isoformat()
        for path, query in (
            ("marketplace-component-usages/", ""),
            ("marketplace-component-usages/", f"billing_period={month}"),
            ("marketplace-component-user-usages/", ""),
            ("marketplace-component-user-usages/", f"component_usage__billing_period={month}"),
            ("marketplace-orders/", ""),
            ("marketplace-orders/", poll),
            ("marketplace-provider-resources/", "state=OK"),
            ("marketplace-resources/", ""),
        ):
            for user in (self.carol, self.alice, self.staff):
                count, statements = self.listed(user, path, query)
                tally = [sql for sql in statements if ListTally._meta.db_table in sql]
                assert len(tally) == (count != "0"), (path, query, statements)  # an empty page is its count
                assert not [sql for sql in statements if "COUNT(" in sql.upper()], (path, query, statements)
                other = (
                    "type=Create" if "orders" in path else "name=alloc" if "resources" in path else "type=cpu"
                )
                _, others = self.listed(user, path, f"{query}&{other}")  # not a dimension: rows counted
                assert not [sql for sql in others if ListTally._meta.db_table in sql], (path, query)
                head = self.as_user(user).head(f"/api/{path}?{query}")
                assert count == head["X-Result-Count"]

    def test_a_list_counted_from_the_tally_runs_as_many_statements_at_any_size(self) -> None:
        def statements() -> int:
            return len(self.listed(self.carol, "marketplace-component-user-usages/", "")[1])

        before = statements()
        for n in range(3):
            other = make_resource(self.alice, self.carol, self.project_a1, self.offering, name=f"more {n}")
            self.report(other, "cpu", users=("u1", "u2", "u3"))
        assert statements() == before
