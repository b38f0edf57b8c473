"""Waldur's own SDK (waldur-api-client 8.1.2) driving the orders endpoints against a live server."""

from __future__ import annotations

from typing import Any

from django.test import LiveServerTestCase
from waldur_api_client import AuthenticatedClient
from waldur_api_client.api.marketplace_orders import (
    marketplace_orders_approve_by_consumer,
    marketplace_orders_approve_by_provider,
    marketplace_orders_cancel,
    marketplace_orders_count,
    marketplace_orders_create,
    marketplace_orders_destroy,
    marketplace_orders_list,
    marketplace_orders_offering_retrieve,
    marketplace_orders_reject_by_consumer,
    marketplace_orders_reject_by_provider,
    marketplace_orders_resource_retrieve,
    marketplace_orders_retrieve,
    marketplace_orders_retry,
    marketplace_orders_set_backend_id,
    marketplace_orders_set_state_done,
    marketplace_orders_set_state_erred,
    marketplace_orders_set_state_executing,
    marketplace_orders_unlink,
)
from waldur_api_client.api.marketplace_public_offerings import marketplace_public_offerings_retrieve
from waldur_api_client.api.projects import projects_retrieve
from waldur_api_client.errors import UnexpectedStatus
from waldur_api_client.models import (
    GenericOrderAttributes,
    OrderApproveByProviderRequest,
    OrderBackendIDRequest,
    OrderCreateRequest,
    OrderCreateRequestLimits,
    OrderDetails,
    OrderErrorDetailsRequest,
    OrderProviderRejectionRequest,
    OrderState,
)
from waldur_api_client.models.order_details_field_enum import OrderDetailsFieldEnum

from efp.marketplace.models import OfferingType, Order, Resource
from efp.marketplace.services.offerings import grant_offering_manager
from efp.marketplace.tests.base import MarketplaceTestCase
from efp.marketplace.tests.factories import (
    make_customer,
    make_offering,
    make_order,
    make_project,
    make_token,
    make_user,
    plan_of,
)

AGENT = "waldur-site-agent-order-process/0.7.0"


class SdkOrderTests(LiveServerTestCase):
    def setUp(self) -> None:
        self.staff = make_user("staff", is_staff=True)
        self.alice, self.erin = make_user("alice"), make_user("erin")
        self.carol, self.oscar = make_user("carol"), make_user("oscar")
        self.org_a = make_customer("Organisation A", owner=self.alice)
        self.project = make_project(self.org_a, "Project A1", admins=[self.erin])
        self.provider = make_customer("Provider P", owner=self.carol)
        self.offering = make_offering(self.provider, name="Offering O")
        self.basic = make_offering(self.provider, name="Offering B", offering_type=OfferingType.BASIC)
        grant_offering_manager(offering=self.offering, user=self.oscar)

    def client_for(self, user: Any) -> AuthenticatedClient:
        return AuthenticatedClient(
            base_url=self.live_server_url,
            token=make_token(user),
            prefix="Token",
            # One request per connection: no keep-alive request thread outlives the test (SQLite in memory).
            headers={"User-Agent": AGENT, "Connection": "close"},
        )

    def erin_outsider(self) -> Any:
        return make_user("dave")

    def bulk_pending(self, count: int) -> None:
        """Pending-provider Create orders with their resources, inserted in bulk (test data)."""
        plan = plan_of(self.offering)
        resources = Resource.objects.bulk_create(
            Resource(name=f"bulk-{i}", project=self.project, offering=self.offering, plan=plan)
            for i in range(count)
        )
        Order.objects.bulk_create(
            Order(
                offering=self.offering,
                project=self.project,
                resource=resource,
                plan=plan,
                attributes={"name": resource.name},
                created_by=self.alice,
                consumer_reviewed_by=self.alice,
                state="pending-provider" if index % 2 else "executing",
            )
            for index, resource in enumerate(resources)
        )

    def test_it_lists_every_page_with_sync_all(self) -> None:
        self.bulk_pending(130)
        make_order(self.alice, self.project, self.basic)  # another offering: filtered out
        client = self.client_for(self.oscar)
        orders = marketplace_orders_list.sync_all(
            client=client,
            offering_uuid=self.offering.uuid,
            state=[OrderState.PENDING_PROVIDER, OrderState.EXECUTING],
        )
        expected = set(Order.objects.filter(offering=self.offering).values_list("uuid", flat=True))
        assert len(orders) == 130
        assert {order.uuid for order in orders} == expected
        assert {order.state for order in orders} == {OrderState.PENDING_PROVIDER, OrderState.EXECUTING}
        assert marketplace_orders_count.sync(client=self.client_for(self.carol)) == 131
        sparse = marketplace_orders_list.sync(
            client=client,
            offering_uuid=self.offering.uuid,
            field=[OrderDetailsFieldEnum.UUID, OrderDetailsFieldEnum.STATE],
            page_size=5,
        )
        assert len(sparse) == 5
        assert set(sparse[0].to_dict()) == {"uuid", "state"}

    def test_it_creates_approves_and_completes_an_order(self) -> None:
        alice, carol = self.client_for(self.alice), self.client_for(self.carol)
        public = marketplace_public_offerings_retrieve.sync(self.offering.uuid, client=alice)
        project = projects_retrieve.sync(self.project.uuid, client=alice)
        created = marketplace_orders_create.sync(
            client=alice,
            body=OrderCreateRequest(
                offering=public.url,
                project=project.url,
                plan=public.plans[0].url,
                attributes=GenericOrderAttributes(name="sdk-alloc"),
                limits=OrderCreateRequestLimits.from_dict({"storage": 3}),
            ),
        )
        assert created.state == OrderState.PENDING_PROVIDER
        order = Order.objects.get(uuid=created.uuid)
        assert (order.state, order.resource.name, order.resource.limits) == (
            "pending-provider",
            "sdk-alloc",
            {"storage": 3},
        )

        fetched = marketplace_orders_retrieve.sync(created.uuid, client=carol)
        assert (fetched.uuid, fetched.resource_name, fetched.plan_uuid) == (
            created.uuid,
            "sdk-alloc",
            plan_of(self.offering).uuid,
        )
        offering = marketplace_orders_offering_retrieve.sync(created.uuid, client=alice)
        assert offering.uuid == self.offering.uuid
        resource = marketplace_orders_resource_retrieve.sync(created.uuid, client=alice)
        assert (resource.uuid, resource.state.value, resource.name) == (
            order.resource.uuid,
            "Creating",
            "sdk-alloc",
        )
        with self.assertRaises(UnexpectedStatus) as invisible:
            marketplace_orders_resource_retrieve.sync(
                created.uuid, client=self.client_for(self.erin_outsider())
            )
        assert invisible.exception.status_code == 404

        approved = marketplace_orders_approve_by_provider.sync(
            created.uuid, client=carol, body=OrderApproveByProviderRequest()
        )
        assert approved.detail
        assert Order.objects.get(pk=order.pk).state == "executing"

        status = marketplace_orders_set_backend_id.sync(
            created.uuid, client=carol, body=OrderBackendIDRequest(backend_id="slurm-job-7")
        )
        assert status.status == "Order backend_id has been changed."
        assert Order.objects.get(pk=order.pk).backend_id == "slurm-job-7"

        marketplace_orders_set_state_done.sync_detailed(created.uuid, client=carol)
        order.refresh_from_db()
        assert order.state == "done"
        assert Resource.objects.get(pk=order.resource_id).state == "OK"
        assert marketplace_orders_retrieve.sync(created.uuid, client=alice).state == OrderState.DONE

        try:
            marketplace_orders_approve_by_provider.sync(
                created.uuid, client=carol, body=OrderApproveByProviderRequest()
            )
        except UnexpectedStatus as error:
            assert error.status_code == 409
        else:
            raise AssertionError("approving a done order must fail")
        assert Order.objects.get(pk=order.pk).state == "done"

    def test_it_rejects_with_a_comment(self) -> None:
        order = make_order(self.alice, self.project, self.offering)
        carol = self.client_for(self.carol)
        response = marketplace_orders_reject_by_provider.sync_detailed(
            order.uuid,
            client=carol,
            body=OrderProviderRejectionRequest(provider_rejection_comment="Out of budget"),
        )
        assert response.status_code == 200
        order.refresh_from_db()
        assert (order.state, order.provider_rejection_comment) == ("rejected", "Out of budget")
        shown = marketplace_orders_retrieve.sync(order.uuid, client=self.client_for(self.alice))
        assert shown.state == OrderState.REJECTED
        assert shown.provider_rejection_comment == "Out of budget"
        assert Resource.objects.get(pk=order.resource_id).state == "Terminated"

    def test_it_sets_executing_erred_and_retries(self) -> None:
        order = make_order(self.alice, self.project, self.offering)
        oscar = self.client_for(self.oscar)
        assert (
            marketplace_orders_set_state_executing.sync_detailed(order.uuid, client=oscar).status_code == 200
        )
        assert Order.objects.get(pk=order.pk).state == "executing"
        Resource.objects.filter(pk=order.resource_id).update(backend_id="acct-1")  # the backend knows it
        marketplace_orders_set_state_erred.sync_detailed(
            order.uuid,
            client=oscar,
            body=OrderErrorDetailsRequest(error_message="sbatch failed", error_traceback="Traceback ...\n"),
        )
        order.refresh_from_db()
        assert (order.state, order.error_message, order.error_traceback) == (
            "erred",
            "sbatch failed",
            "Traceback ...",
        )
        assert marketplace_orders_retrieve.sync(order.uuid, client=oscar).error_message == "sbatch failed"
        assert marketplace_orders_retry.sync_detailed(order.uuid, client=oscar).status_code == 200
        assert Order.objects.get(pk=order.pk).state == "executing"

    def test_it_serves_the_consumer_verbs(self) -> None:
        alice = self.client_for(self.alice)
        first = make_order(self.erin, self.project, self.offering, name="first")
        second = make_order(self.erin, self.project, self.offering, name="second")
        third = make_order(self.erin, self.project, self.offering, name="third")
        basic = make_order(self.alice, self.project, self.basic, name="basic")
        assert marketplace_orders_approve_by_consumer.sync(first.uuid, client=alice).detail
        assert Order.objects.get(pk=first.pk).state == "pending-provider"
        marketplace_orders_reject_by_consumer.sync_detailed(
            second.uuid, client=alice, body=OrderErrorDetailsRequest(consumer_rejection_comment="not now")
        )
        assert Order.objects.get(pk=second.pk).state == "rejected"
        assert marketplace_orders_cancel.sync_detailed(basic.uuid, client=alice).status_code == 202
        assert Order.objects.get(pk=basic.pk).state == "canceled"
        assert marketplace_orders_destroy.sync_detailed(third.uuid, client=alice).status_code == 204
        assert not Order.objects.filter(pk=third.pk).exists()
        assert (
            marketplace_orders_unlink.sync_detailed(
                first.uuid, client=self.client_for(self.staff)
            ).status_code
            == 204
        )
        assert not Order.objects.filter(pk=first.pk).exists()


class SdkParsesEveryOrderTests(MarketplaceTestCase):
    """Every kind of order our API renders parses with the SDK's strict OrderDetails model."""

    def test_it_renders_orders_of_every_type_and_state_the_sdk_can_parse(self) -> None:
        from efp.marketplace.services import orders as order_services
        from efp.marketplace.tests.factories import make_resource

        resource = make_resource(self.alice, self.carol, self.project_a1, self.offering, name="kept")
        order_services.update_resource_limits(resource=resource, user=self.alice, limits={"storage": 50})
        doomed = make_resource(self.alice, self.carol, self.project_a1, self.basic, name="doomed")
        terminate = order_services.terminate_resource(resource=doomed, user=self.alice)
        order_services.approve_order_by_provider(order=terminate, user=self.carol)
        make_order(self.erin, self.project_a1, self.offering, name="waiting")
        rejected = make_order(self.alice, self.project_a1, self.offering, name="rejected")
        order_services.reject_order_by_provider(order=rejected, user=self.carol, comment="no")
        failed = make_order(self.alice, self.project_a1, self.offering, name="failed")
        order_services.fail_order(order=failed, user=self.carol, error_message="x", error_traceback="tb")
        canceled = make_order(self.alice, self.project_a1, self.basic, name="canceled")
        order_services.cancel_order(order=canceled, user=self.alice)
        planless = make_offering(self.provider_p, name="Planless", offering_type="Support.OfferingTemplate")
        planless.plans.all().delete()
        order_services.create_order(user=self.alice, project=self.project_a1, offering=planless)

        for user in (self.staff, self.carol, self.alice):
            rows = self.as_user(user).get("/api/marketplace-orders/?page_size=100").json()
            parsed = [OrderDetails.from_dict(row) for row in rows]
            assert {order.state for order in parsed} >= {
                OrderState.DONE,
                OrderState.REJECTED,
                OrderState.ERRED,
            }
            assert {order.type_.value for order in parsed} == {"Create", "Update", "Terminate"}
            for order in parsed:
                order.to_dict()
        assert len(rows) == Order.objects.count()
