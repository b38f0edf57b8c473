"""History that nothing erases (docs/architecture.md, "History"): every path that deletes orders, resources,
projects, roles or users, and every way to touch the event rows themselves, leaves the events, usage
revisions and tombstones exactly as they were; deleting an order or a resource leaves a tombstone."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django.db import IntegrityError, connection, transaction
from django.db.models import ProtectedError
from django.test import Client

from efp.marketplace.models import (
    AppendOnlyError,
    ComponentUsage,
    Order,
    OrderEvent,
    Resource,
    ResourceEvent,
    Tombstone,
    UsageRevision,
)
from efp.marketplace.models.history import APPEND_ONLY_TABLES
from efp.marketplace.services import orders as order_services
from efp.marketplace.services import resources as resource_services
from efp.marketplace.services import usage as usage_services
from efp.marketplace.services import user_usage as user_usage_services
from efp.marketplace.services.usage import UsageItem, UserUsageItem
from efp.marketplace.tests.base import MarketplaceTestCase
from efp.marketplace.tests.factories import make_order, make_project, make_resource, make_user
from efp.structure import services as structure_services
from efp.structure.models import ProjectRole
from efp.structure.roles import Role

HISTORY = (OrderEvent, ResourceEvent, UsageRevision, Tombstone)


def history() -> dict[tuple[str, int], dict[str, Any]]:
    return {(model.__name__, row["id"]): row for model in HISTORY for row in model.objects.values()}


class HistoryTestCase(MarketplaceTestCase):
    """alice's allocation on O (with usage carol reported, anna's share in it) and her order still waiting."""

    @classmethod
    def setUpTestData(cls) -> None:
        super().setUpTestData()
        cls.root = make_user("root", is_staff=True, is_superuser=True)
        cls.allocation = make_resource(cls.alice, cls.carol, cls.project_a1, cls.offering, name="alloc")
        [cls.cpu] = usage_services.set_usage(
            user=cls.carol, resource=cls.allocation, usages=[UsageItem(type="cpu", amount=Decimal("7"))]
        )
        user_usage_services.set_user_usages(
            user=cls.carol, component_usage=cls.cpu, items=[UserUsageItem(username="anna", usage=Decimal(3))]
        )
        cls.waiting = make_order(cls.alice, cls.project_a1, cls.offering, name="waiting")

    def setUp(self) -> None:
        self.before = history()
        assert {key[0] for key in self.before} == {"OrderEvent", "ResourceEvent", "UsageRevision"}

    def assert_history_kept(self) -> None:
        after = history()
        assert {key: after.get(key) for key in self.before} == self.before

    def web(self, user: Any) -> Client:
        client = Client()
        client.force_login(user)
        return client


class DeletingKeepsTheTrailTests(HistoryTestCase):
    def test_it_keeps_the_events_of_an_order_deleted_through_the_api(self) -> None:
        response = self.as_user(self.alice).delete(f"/api/marketplace-orders/{self.waiting.uuid.hex}/")
        assert response.status_code == 204, response.content
        assert not Order.objects.filter(pk=self.waiting.pk).exists()
        self.assert_history_kept()
        assert OrderEvent.objects.filter(order_id=self.waiting.pk).count() == 2
        stone = Tombstone.objects.get()
        assert (stone.kind, stone.object_id, stone.uuid) == ("order", self.waiting.pk, self.waiting.uuid)
        assert (stone.name, stone.deleted_by, stone.reason) == (
            "waiting",
            self.alice,
            "deleted while pending",
        )
        assert stone.snapshot["state"] == "pending-provider"
        assert stone.snapshot["limits"] == {"storage": 10}

    def test_it_keeps_the_events_of_an_order_deleted_in_the_gui(self) -> None:
        response = self.web(self.alice).post(f"/my/orders/{self.waiting.uuid.hex}/delete/")
        assert response.status_code == 302, response.content
        assert not Order.objects.filter(pk=self.waiting.pk).exists()
        self.assert_history_kept()
        assert Tombstone.objects.get().uuid == self.waiting.uuid

    def test_it_keeps_the_events_of_an_order_unlinked_by_staff(self) -> None:
        response = self.as_user(self.staff).post(f"/api/marketplace-orders/{self.waiting.uuid.hex}/unlink/")
        assert response.status_code == 204, response.content
        self.assert_history_kept()
        stone = Tombstone.objects.get()
        assert (stone.uuid, stone.deleted_by, stone.reason) == (
            self.waiting.uuid,
            self.staff,
            "unlinked by staff",
        )

    def test_it_keeps_the_events_usage_revisions_and_orders_of_an_unlinked_resource(self) -> None:
        creation = Order.objects.get(resource=self.allocation)
        url = f"/api/marketplace-provider-resources/{self.allocation.uuid.hex}/unlink/"
        response = self.as_user(self.staff).post(url)
        assert response.status_code == 204, response.content
        assert not Resource.objects.filter(pk=self.allocation.pk).exists()
        assert not ComponentUsage.objects.filter(pk=self.cpu.pk).exists()
        self.assert_history_kept()
        assert ResourceEvent.objects.filter(resource_id=self.allocation.pk).count() == 2
        assert UsageRevision.objects.filter(component_usage_id=self.cpu.pk).count() == 2
        resource_stone = Tombstone.objects.get(kind="resource")
        assert (resource_stone.uuid, resource_stone.name) == (self.allocation.uuid, "alloc")
        assert resource_stone.snapshot["usages"] == [
            {"id": self.cpu.pk, "uuid": str(self.cpu.uuid), "component__type": "cpu",
             "billing_period": self.cpu.billing_period.isoformat(), "usage": "7.00"}
        ]  # fmt: skip
        assert resource_stone.snapshot["orders"] == [str(creation.uuid)]
        order_stone = Tombstone.objects.get(kind="order")
        assert (order_stone.uuid, order_stone.reason) == (
            creation.uuid,
            "unlinked by staff (with its resource)",
        )

    def test_it_writes_no_tombstone_when_the_deletion_is_refused(self) -> None:
        response = self.as_user(self.bob).post(f"/api/marketplace-orders/{self.waiting.uuid.hex}/unlink/")
        assert response.status_code in (403, 404), response.content
        assert not Tombstone.objects.exists()
        self.assert_history_kept()

    def test_it_keeps_history_when_projects_and_roles_go(self) -> None:
        project = self.project_a1.uuid.hex
        bob = ProjectRole.objects.get(project=self.project_a1, user=self.bob)
        response = self.web(self.alice).post(f"/projects/{project}/team/{bob.uuid.hex}/end/", {})
        assert response.status_code in (200, 302), response.content
        body = {"user": self.erin.uuid.hex, "role": Role.PROJECT_ADMIN.value}
        response = self.as_user(self.alice).post(f"/api/projects/{project}/delete_user/", body, format="json")
        assert response.status_code == 200, response.content
        response = self.as_user(self.alice).delete(f"/api/projects/{project}/")
        assert response.status_code == 204, response.content
        a2 = make_project(self.org_a, "Project A2")
        make_order(self.alice, a2, self.offering, name="in a2")
        self.before = history()
        response = self.web(self.alice).post(f"/projects/{a2.uuid.hex}/delete/")
        assert response.status_code == 302, response.content
        a3 = make_project(self.org_a, "Project A3")
        structure_services.remove_project(project=a3, user=self.alice)
        self.assert_history_kept()

    def test_it_protects_users_named_in_history(self) -> None:
        with self.assertRaises(ProtectedError), transaction.atomic():
            self.carol.delete()
        stranger = make_user("stranger")
        stranger.delete()  # a user history does not name can go

    def test_it_keeps_history_through_every_deleting_service(self) -> None:
        order_services.delete_order(order=self.waiting, user=self.alice)
        resource_services.unlink_resource(resource=self.allocation, user=self.staff)
        self.assert_history_kept()
        assert Tombstone.objects.count() == 3


class EventsAreAppendOnlyTests(HistoryTestCase):
    def rows(self) -> list[Any]:
        return [model.objects.order_by("pk").first() for model in HISTORY if model.objects.exists()]

    def test_it_refuses_to_save_or_delete_an_existing_row(self) -> None:
        for row in self.rows():
            with self.subTest(row=type(row).__name__):
                row.reason = row.description = "rewritten"
                with self.assertRaises(AppendOnlyError):
                    row.save()
                with self.assertRaises(AppendOnlyError):
                    row.delete()
        self.assert_history_kept()

    def test_it_refuses_queryset_updates_and_deletes(self) -> None:
        for model in HISTORY:
            with self.subTest(model=model.__name__):
                with self.assertRaises(AppendOnlyError):
                    model.objects.update(created=None)
                with self.assertRaises(AppendOnlyError):
                    model.objects.filter(pk__gt=0).delete()
                with self.assertRaises(AppendOnlyError):
                    model.objects.bulk_update(list(model.objects.all()), ["created"])
                with self.assertRaises(AppendOnlyError):
                    model._base_manager.all().delete()
        with self.assertRaises(AppendOnlyError):
            self.waiting.events.all().delete()
        with self.assertRaises(AppendOnlyError):
            self.allocation.events.update(reason="rewritten")
        self.assert_history_kept()

    def test_it_refuses_a_new_object_that_reuses_an_existing_id(self) -> None:
        first = OrderEvent.objects.order_by("pk").first()
        assert first is not None
        forged = OrderEvent(pk=first.pk, order_id=first.order_id, new_state="done", reason="forged")
        with self.assertRaises(IntegrityError), transaction.atomic():
            forged.save()
        self.assert_history_kept()

    def test_it_has_the_database_refuse_raw_updates_and_deletes(self) -> None:
        order_services.delete_order(order=self.waiting, user=self.alice)  # a tombstone to protect too
        self.before = history()
        quote = connection.ops.quote_name
        for table in APPEND_ONLY_TABLES:
            for sql in (f"UPDATE {quote(table)} SET created = created", f"DELETE FROM {quote(table)}"):  # noqa: S608
                with (
                    self.subTest(sql=sql),
                    self.assertRaises(IntegrityError),
                    transaction.atomic(),
                    connection.cursor() as cursor,
                ):
                    cursor.execute(sql)
        self.assert_history_kept()

    def test_it_lets_inserts_through(self) -> None:
        with connection.cursor() as cursor:
            cursor.execute(
                "INSERT INTO marketplace_orderevent (order_id, old_state, new_state, reason, created)"
                " VALUES (%s, '', 'done', 'raw', %s)",
                [self.waiting.pk, connection.ops.adapt_datetimefield_value(self.waiting.created)],
            )
        assert self.waiting.events.filter(reason="raw").exists()
