"""`Idempotency-Key` on the usage reports, order creation and the order verbs (efp.idempotency.api):
a retry gets the first answer and writes nothing, another body with the same key is 422, keys are per user
and kept 24 hours, and two identical requests at once write once (PostgreSQL)."""

from __future__ import annotations

import datetime
from decimal import Decimal
from typing import Any

from django.test import LiveServerTestCase
from django.utils import timezone
from waldur_api_client import AuthenticatedClient
from waldur_api_client.api.marketplace_component_usages import marketplace_component_usages_set_usage
from waldur_api_client.api.marketplace_orders import marketplace_orders_approve_by_provider
from waldur_api_client.models import (
    ComponentUsageCreateRequest,
    ComponentUsageItemRequest,
    OrderApproveByProviderRequest,
)

from efp.events.models import Event
from efp.events.schedule import JOBS
from efp.idempotency.api import KEPT
from efp.idempotency.models import IdempotencyKey
from efp.marketplace.models import ComponentUsage, ComponentUserUsage, Order, OrderEvent, UsageRevision
from efp.marketplace.services import usage as usage_services
from efp.marketplace.services.usage import UsageItem
from efp.marketplace.tests.base import MarketplaceTestCase
from efp.marketplace.tests.factories import make_order, make_resource, plan_of
from efp.marketplace.tests.live_world import build_world
from efp.marketplace.tests.races import ROUNDS, WideBacklogServerThread, needs_postgresql, race

SET_USAGE = "/api/marketplace-component-usages/set_usage/"
ORDERS = "/api/marketplace-orders/"


class IdempotentUsageTests(MarketplaceTestCase):
    @classmethod
    def setUpTestData(cls) -> None:
        super().setUpTestData()
        cls.resource = make_resource(cls.alice, cls.carol, cls.project_a1, cls.offering)

    def report(self, user: Any, amount: str, key: str | None = "report-1") -> Any:
        body = {"resource": self.resource.uuid.hex, "usages": [{"type": "cpu", "amount": amount}]}
        headers = {} if key is None else {"HTTP_IDEMPOTENCY_KEY": key}
        return self.as_user(user).post(SET_USAGE, body, format="json", **headers)

    def revisions(self) -> int:
        return UsageRevision.objects.filter(component_usage__resource=self.resource).count()

    def test_it_answers_a_retry_with_the_first_answer_and_writes_once(self) -> None:
        events = Event.objects.count()
        first = self.report(self.carol, "12.5")
        assert first.status_code == 201, first.content
        assert (self.revisions(), Event.objects.count() - events) == (1, 1)
        retry = self.report(self.carol, "12.5")
        assert (retry.status_code, retry.content, retry["Idempotent-Replayed"]) == (201, b"", "true")
        assert (self.revisions(), Event.objects.count() - events) == (1, 1)
        assert ComponentUsage.objects.get(resource=self.resource, component__type="cpu").usage == Decimal(
            "12.50"
        )
        stored = IdempotencyKey.objects.get(user=self.carol, key="report-1")
        assert (stored.method, stored.path, stored.status) == ("POST", SET_USAGE, 201)

    def test_it_refuses_the_same_key_with_another_body_with_422(self) -> None:
        assert self.report(self.carol, "12.5").status_code == 201
        response = self.report(self.carol, "13")
        assert response.status_code == 422
        assert "Idempotency-Key" in response.json()["detail"]
        assert self.revisions() == 1
        assert ComponentUsage.objects.get(resource=self.resource, component__type="cpu").usage == Decimal(
            "12.50"
        )

    def test_it_refuses_the_same_key_on_another_path_with_422(self) -> None:
        assert self.report(self.carol, "12.5").status_code == 201
        [cpu] = ComponentUsage.objects.filter(resource=self.resource, component__type="cpu")
        url = f"/api/marketplace-component-usages/{cpu.uuid.hex}/set_user_usage/"
        response = self.as_user(self.carol).post(
            url, {"username": "anna", "usage": "1"}, format="json", HTTP_IDEMPOTENCY_KEY="report-1"
        )
        assert response.status_code == 422
        assert not ComponentUserUsage.objects.exists()

    def test_it_keeps_the_keys_of_different_users_apart(self) -> None:
        assert self.report(self.carol, "12.5").status_code == 201
        response = self.report(self.oscar, "20")
        assert response.status_code == 201 and "Idempotent-Replayed" not in response
        assert ComponentUsage.objects.get(resource=self.resource, component__type="cpu").usage == Decimal(
            "20.00"
        )
        assert self.revisions() == 2

    def test_it_changes_nothing_without_the_header(self) -> None:
        assert self.report(self.carol, "12.5", key=None).status_code == 201
        assert self.report(self.carol, "12.5", key=None).status_code == 201
        assert self.revisions() == 2
        assert not IdempotencyKey.objects.exists()

    def test_it_keeps_no_key_for_a_refused_request(self) -> None:
        """dave does not see the resource (400), alice may not report (403): neither leaves a key."""
        assert self.report(self.dave, "12.5").status_code == 400
        assert self.report(self.alice, "12.5").status_code == 403
        assert not IdempotencyKey.objects.exists()
        assert self.revisions() == 0

    def test_it_refuses_an_empty_or_overlong_key_with_400(self) -> None:
        for key in ("", " ", "k" * 256):
            response = self.report(self.carol, "12.5", key=key)
            assert response.status_code == 400, key
            assert "Idempotency-Key" in response.json()
        assert self.revisions() == 0

    def test_it_keeps_user_usage_reports_once(self) -> None:
        [cpu] = usage_services.set_usage(
            user=self.carol, resource=self.resource, usages=[UsageItem(type="cpu", amount=Decimal("9"))]
        )
        base = f"/api/marketplace-component-usages/{cpu.uuid.hex}/"
        client = self.as_user(self.oscar)
        for _ in range(2):
            one = client.post(
                base + "set_user_usage/",
                {"username": "anna", "usage": "4"},
                format="json",
                HTTP_IDEMPOTENCY_KEY="u1",
            )
            many = client.post(
                base + "set_user_usages/",
                {"usages": [{"username": "ben", "usage": "2"}]},
                format="json",
                HTTP_IDEMPOTENCY_KEY="u2",
            )
            assert (one.status_code, many.status_code) == (201, 201)
        assert UsageRevision.objects.filter(component_usage=cpu).exclude(username="").count() == 2

    def test_it_forgets_keys_after_24_hours(self) -> None:
        assert self.report(self.carol, "12.5").status_code == 201
        IdempotencyKey.objects.update(created=timezone.now() - KEPT - datetime.timedelta(minutes=1))
        assert self.report(self.oscar, "1", key="fresh").status_code == 201
        summary = JOBS["idempotency.expire_keys"].function()  # registered by the app (apps.py)
        assert summary == {"deleted": 1}
        assert list(IdempotencyKey.objects.values_list("key", flat=True)) == ["fresh"]
        # The key is free again: the same request writes again.
        assert self.report(self.carol, "12.5").status_code == 201
        assert self.revisions() == 3

    def test_it_treats_an_expired_key_as_new_before_the_job_runs(self) -> None:
        assert self.report(self.carol, "12.5").status_code == 201
        IdempotencyKey.objects.update(created=timezone.now() - KEPT - datetime.timedelta(minutes=1))
        response = self.report(self.carol, "13")
        assert response.status_code == 201 and "Idempotent-Replayed" not in response
        assert ComponentUsage.objects.get(resource=self.resource, component__type="cpu").usage == Decimal(
            "13.00"
        )


class IdempotentOrderTests(MarketplaceTestCase):
    def order_body(self) -> dict[str, Any]:
        return {
            "project": self.project_url(self.project_a1),
            "offering": self.offering_url(self.offering),
            "plan": self.plan_url(plan_of(self.offering)),
            "attributes": {"name": "alloc"},
            "limits": {"storage": 10},
        }

    def test_it_creates_one_order_for_a_retried_create(self) -> None:
        client = self.as_user(self.alice)
        first = client.post(ORDERS, self.order_body(), format="json", HTTP_IDEMPOTENCY_KEY="order-1")
        assert first.status_code == 201, first.content
        events = Event.objects.count()
        retry = client.post(ORDERS, self.order_body(), format="json", HTTP_IDEMPOTENCY_KEY="order-1")
        assert retry.status_code == 201
        assert retry.json() == first.json()
        assert Order.objects.count() == 1
        assert Event.objects.count() == events

    def test_it_answers_a_retried_verb_with_its_first_answer_not_409(self) -> None:
        order = make_order(self.alice, self.project_a1, self.offering)
        path = f"{ORDERS}{order.uuid.hex}/approve_by_provider/"
        client = self.as_user(self.carol)
        first = client.post(path, HTTP_IDEMPOTENCY_KEY="approve-1")
        retry = client.post(path, HTTP_IDEMPOTENCY_KEY="approve-1")
        assert (first.status_code, retry.status_code) == (200, 200)
        assert retry.json() == first.json() == {"detail": "Order has been approved by provider."}
        assert OrderEvent.objects.filter(order=order, new_state="executing").count() == 1
        # Without the key the second approval is the 409 it always was.
        assert client.post(path).status_code == 409

    def test_it_refuses_a_verb_to_bob_and_keeps_no_key(self) -> None:
        order = make_order(self.alice, self.project_a1, self.offering)
        path = f"{ORDERS}{order.uuid.hex}/approve_by_provider/"
        assert self.as_user(self.bob).post(path, HTTP_IDEMPOTENCY_KEY="k").status_code == 403
        assert self.as_user(self.dave).post(path, HTTP_IDEMPOTENCY_KEY="k").status_code == 404
        assert not IdempotencyKey.objects.exists()
        assert Order.objects.get(pk=order.pk).state == "pending-provider"

    def test_it_refuses_the_key_of_one_order_on_another(self) -> None:
        one = make_order(self.alice, self.project_a1, self.offering, name="one")
        two = make_order(self.alice, self.project_a1, self.offering, name="two")
        client = self.as_user(self.carol)
        assert (
            client.post(f"{ORDERS}{one.uuid.hex}/approve_by_provider/", HTTP_IDEMPOTENCY_KEY="k").status_code
            == 200
        )
        response = client.post(f"{ORDERS}{two.uuid.hex}/approve_by_provider/", HTTP_IDEMPOTENCY_KEY="k")
        assert response.status_code == 422
        assert Order.objects.get(pk=two.pk).state == "pending-provider"


@needs_postgresql
class ConcurrentIdempotentTests(LiveServerTestCase):
    """Identical requests with one key released together: one write, every answer the same."""

    server_thread_class = WideBacklogServerThread
    CALLS = 8

    def setUp(self) -> None:
        self.world = build_world()

    def test_it_writes_once_for_identical_reports_sent_together(self) -> None:
        world, token = self.world, self.world.token(self.world.carol)
        url = f"{self.live_server_url}{SET_USAGE}"
        for round_ in range(ROUNDS):
            body = {"resource": world.resource.uuid.hex, "usages": [{"type": "cpu", "amount": f"{round_}.5"}]}

            def call(client: Any, body: dict[str, Any] = body, key: str = f"race-{round_}") -> int:
                headers = {"Authorization": f"Token {token}", "Idempotency-Key": key}
                return client.post(url, json=body, headers=headers).status_code

            assert race([call] * self.CALLS) == [201] * self.CALLS, round_
            revisions = UsageRevision.objects.filter(component_usage__resource=world.resource, username="")
            assert revisions.count() == round_ + 1, round_

    def test_it_approves_once_for_identical_verbs_sent_together(self) -> None:
        world, token = self.world, self.world.token(self.world.carol)
        for round_ in range(ROUNDS):
            order = make_order(world.alice, world.resource.project, world.offering, name=f"r{round_}")
            url = f"{self.live_server_url}{ORDERS}{order.uuid.hex}/approve_by_provider/"

            def call(client: Any, url: str = url, key: str = f"approve-{round_}") -> int:
                headers = {"Authorization": f"Token {token}", "Idempotency-Key": key}
                return client.post(url, json={}, headers=headers).status_code

            assert race([call] * self.CALLS) == [200] * self.CALLS, round_
            assert OrderEvent.objects.filter(order=order, new_state="executing").count() == 1


class IdempotentSdkTests(LiveServerTestCase):
    """Waldur's SDK sends extra headers as they are: a site agent can send a key and retry."""

    def setUp(self) -> None:
        self.world = build_world()

    def sdk(self, key: str) -> AuthenticatedClient:
        return AuthenticatedClient(
            base_url=self.live_server_url,
            token=self.world.token(self.world.carol),
            prefix="Token",
            headers={"Idempotency-Key": key},
        )

    def test_it_serves_a_retried_report_and_approval_through_the_sdk(self) -> None:
        world = self.world
        body = ComponentUsageCreateRequest(
            resource=world.resource.uuid, usages=[ComponentUsageItemRequest(type_="cpu", amount="7")]
        )
        client = self.sdk("sdk-report")
        for _ in range(2):
            response = marketplace_component_usages_set_usage.sync_detailed(client=client, body=body)
            assert response.status_code == 201
        assert UsageRevision.objects.filter(component_usage__resource=world.resource).count() == 1
        order = make_order(world.alice, world.resource.project, world.offering, name="sdk")
        client = self.sdk("sdk-approve")
        for _ in range(2):
            response = marketplace_orders_approve_by_provider.sync_detailed(
                uuid=order.uuid, client=client, body=OrderApproveByProviderRequest()
            )
            assert response.status_code == 200
        assert OrderEvent.objects.filter(order=order, new_state="executing").count() == 1
