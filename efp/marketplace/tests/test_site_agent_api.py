"""The endpoints Waldur's site agent calls besides orders and usage, driven through Waldur's own SDK.

The SDK talks to our WSGI application in-process (httpx's WSGI transport), so every test runs in the test
transaction: what the SDK parsed is checked against the database.
"""

from __future__ import annotations

import datetime
from decimal import Decimal
from typing import Any

import httpx
from django.core.signals import request_finished, request_started
from django.db import close_old_connections
from django.test import TestCase
from waldur_api_client import AuthenticatedClient
from waldur_api_client.api.marketplace_component_usages import (
    marketplace_component_usages_set_usage,
    marketplace_component_usages_set_user_usages,
)
from waldur_api_client.api.marketplace_offering_users import (
    marketplace_offering_users_create,
    marketplace_offering_users_list,
    marketplace_offering_users_retrieve,
)
from waldur_api_client.api.marketplace_orders import (
    marketplace_orders_approve_by_provider,
    marketplace_orders_set_state_erred,
)
from waldur_api_client.api.marketplace_provider_resources import (
    marketplace_provider_resources_retrieve,
    marketplace_provider_resources_set_endpoints,
)
from waldur_api_client.api.marketplace_site_agent_identities import (
    marketplace_site_agent_identities_create,
    marketplace_site_agent_identities_destroy,
    marketplace_site_agent_identities_list,
    marketplace_site_agent_identities_register_service,
    marketplace_site_agent_identities_retrieve,
    marketplace_site_agent_identities_update,
)
from waldur_api_client.api.marketplace_site_agent_processors import marketplace_site_agent_processors_retrieve
from waldur_api_client.api.marketplace_site_agent_services import (
    marketplace_site_agent_services_list,
    marketplace_site_agent_services_register_processor,
)
from waldur_api_client.errors import UnexpectedStatus
from waldur_api_client.models import (
    AgentIdentityRequest,
    AgentProcessorCreateRequest,
    AgentServiceCreateRequest,
    ComponentUsageCreateRequest,
    ComponentUsageItemRequest,
    ComponentUserUsageBulkCreateRequest,
    ComponentUserUsageCreateRequest,
    OfferingUserRequest,
    OrderApproveByProviderRequest,
    OrderErrorDetailsRequest,
    OrderState,
    ResourceEndpointRequest,
    ResourceEndpointsRequest,
)
from waldur_api_client.models.agent_dependency_request import AgentDependencyRequest
from waldur_api_client.models.offering_user_field_enum import OfferingUserFieldEnum

from efp.marketplace.models import (
    AgentIdentity,
    AgentProcessor,
    AgentService,
    ComponentUserUsage,
    Offering,
    OfferingUser,
    Order,
    Resource,
    ResourceEndpoint,
    UsageRevision,
)
from efp.marketplace.services import orders as order_services
from efp.marketplace.services.offering_users import create_offering_user
from efp.marketplace.tests.base import MarketplaceTestCase
from efp.marketplace.tests.factories import make_order, make_resource, make_token, make_user
from efp.structure.roles import Role
from efp.structure.services import grant_customer_role
from efp.wsgi import application

RESTARTED = datetime.datetime(2026, 11, 2, 8, 30, tzinfo=datetime.UTC)


def in_test_transaction(environ: dict[str, Any], start_response: Any) -> list[bytes]:
    """Our WSGI application, except that a request neither starts nor ends by closing the database
    connection (as in Django's test client; on PostgreSQL the test transaction would be lost)."""
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    try:
        response = application(environ, start_response)
        body = b"".join(response)
        response.close()  # type: ignore[attr-defined]
    finally:
        request_started.connect(close_old_connections)
        request_finished.connect(close_old_connections)
    return [body]


def sdk(user: Any, key: str | None = None) -> AuthenticatedClient:
    """Waldur's SDK client, served by our WSGI application in this process (with a new token of the user's,
    or the given key)."""
    return AuthenticatedClient(
        base_url="http://testserver",
        token=key or make_token(user),
        prefix="Token",
        headers={"User-Agent": "waldur-site-agent-order_process/1.0.7"},
        httpx_args={"transport": httpx.WSGITransport(app=in_test_transaction)},
    )


def status_of(call: Any, *args: Any, **kwargs: Any) -> int:
    """The HTTP status of an SDK call that the SDK itself refuses to parse."""
    try:
        call(*args, **kwargs)
    except UnexpectedStatus as error:
        return error.status_code
    raise AssertionError("the call succeeded")


class SiteAgentApiTestCase(MarketplaceTestCase):
    """Plus: rita, a reader of provider P (sees its offerings, may change nothing)."""

    @classmethod
    def setUpTestData(cls) -> None:
        super().setUpTestData()
        cls.rita = make_user("rita")
        grant_customer_role(customer=cls.provider_p, user=cls.rita, role=Role.CUSTOMER_READER)

    def identity_request(self, name: str = "agent-o", **fields: Any) -> AgentIdentityRequest:
        return AgentIdentityRequest(
            offering=self.offering.uuid,
            name=name,
            version="1.0.7",
            dependencies=[AgentDependencyRequest(package="waldur-site-agent-slurm", version="1.0.7")],
            config_file_path="",
            config_file_content="",
            last_restarted=RESTARTED,
            **fields,
        )

    def register(self, user: Any, name: str = "agent-o") -> AgentIdentity:
        created = marketplace_site_agent_identities_create.sync(
            client=sdk(user), body=self.identity_request(name)
        )
        return AgentIdentity.objects.get(uuid=created.uuid)


class AgentIdentityTests(SiteAgentApiTestCase):
    def test_it_registers_finds_and_updates_an_identity_as_the_agent_does(self) -> None:
        oscar = sdk(self.oscar)
        created = marketplace_site_agent_identities_create.sync(client=oscar, body=self.identity_request())
        identity = AgentIdentity.objects.get(uuid=created.uuid)
        assert (identity.offering, identity.name, identity.created_by) == (
            self.offering,
            "agent-o",
            self.oscar,
        )
        assert identity.dependencies == [{"package": "waldur-site-agent-slurm", "version": "1.0.7"}]
        assert (created.offering, created.created_by, created.last_restarted) == (
            self.offering.uuid,
            self.oscar.uuid,
            RESTARTED,
        )
        assert created.services == []

        [found] = marketplace_site_agent_identities_list.sync(client=oscar, name="agent-o")
        assert found.uuid == identity.uuid
        assert marketplace_site_agent_identities_list.sync(client=oscar, name="agent-x") == []
        assert len(marketplace_site_agent_identities_list.sync(client=sdk(self.carol), name="agent-o")) == 1

        later = RESTARTED + datetime.timedelta(days=1)
        updated = marketplace_site_agent_identities_update.sync(
            identity.uuid.hex,
            client=oscar,
            body=AgentIdentityRequest(
                offering=self.offering.uuid, name="agent-o", version="1.0.8", last_restarted=later
            ),
        )
        identity.refresh_from_db()
        assert (updated.version, identity.version, identity.last_restarted) == ("1.0.8", "1.0.8", later)
        assert identity.dependencies == []  # PUT replaces everything
        retrieved = marketplace_site_agent_identities_retrieve.sync(identity.uuid, client=sdk(self.staff))
        assert retrieved.version == "1.0.8"

    def test_it_registers_services_and_processors_once_per_name(self) -> None:
        identity = self.register(self.oscar)
        oscar = sdk(self.oscar)
        first = marketplace_site_agent_identities_register_service.sync_detailed(
            identity.uuid.hex,
            client=oscar,
            body=AgentServiceCreateRequest(name="order_process", mode="order_process"),
        )
        again = marketplace_site_agent_identities_register_service.sync_detailed(
            identity.uuid.hex,
            client=oscar,
            body=AgentServiceCreateRequest(name="order_process", mode="order_process"),
        )
        assert (first.status_code, again.status_code) == (201, 200)
        assert first.parsed is not None and again.parsed is not None
        assert first.parsed.uuid == again.parsed.uuid
        assert (again.parsed.identity, again.parsed.state.value) == (identity.uuid, "Active")
        service = AgentService.objects.get(identity=identity)
        assert (service.name, service.mode, service.state) == ("order_process", "order_process", "Active")

        body = AgentProcessorCreateRequest(
            name="OfferingOrderProcessor", backend_type="slurm", backend_version="1.0.7"
        )
        created = marketplace_site_agent_services_register_processor.sync_detailed(
            service.uuid.hex, client=oscar, body=body
        )
        body.backend_version = "1.0.8"
        refreshed = marketplace_site_agent_services_register_processor.sync_detailed(
            service.uuid.hex, client=oscar, body=body
        )
        assert (created.status_code, refreshed.status_code) == (201, 200)
        processor = AgentProcessor.objects.get(service=service)
        assert (processor.backend_type, processor.backend_version) == ("slurm", "1.0.8")
        assert processor.last_run is not None
        assert (
            marketplace_site_agent_processors_retrieve.sync(processor.uuid, client=oscar).service
            == service.uuid
        )

        [listed] = marketplace_site_agent_services_list.sync(client=oscar, identity_uuid=identity.uuid)
        assert [p.uuid for p in listed.processors] == [processor.uuid]
        shown = marketplace_site_agent_identities_retrieve.sync(identity.uuid, client=oscar)
        assert [s.uuid for s in shown.services] == [service.uuid]

    def test_it_refuses_a_second_identity_of_the_same_name_for_the_offering(self) -> None:
        self.register(self.oscar)
        assert (
            status_of(
                marketplace_site_agent_identities_create.sync,
                client=sdk(self.carol),
                body=self.identity_request(),
            )
            == 400
        )
        assert AgentIdentity.objects.count() == 1
        response = self.as_user(self.carol).post(
            "/api/marketplace-site-agent-identities/", {"offering": self.offering.uuid.hex}, format="json"
        )
        assert (response.status_code, list(response.json())) == (400, ["name"])

    def test_it_deletes_an_identity_with_its_services(self) -> None:
        identity = self.register(self.oscar)
        marketplace_site_agent_identities_register_service.sync(
            identity.uuid.hex, client=sdk(self.oscar), body=AgentServiceCreateRequest(name="report")
        )
        response = marketplace_site_agent_identities_destroy.sync_detailed(
            identity.uuid, client=sdk(self.carol)
        )
        assert response.status_code == 204
        assert not AgentIdentity.objects.exists()
        assert not AgentService.objects.exists()

    def test_it_hides_identities_from_consumers_and_outsiders(self) -> None:
        identity = self.register(self.oscar)
        for user in (self.alice, self.bob, self.dave):
            assert marketplace_site_agent_identities_list.sync(client=sdk(user)) == []
            assert (
                status_of(marketplace_site_agent_identities_retrieve.sync, identity.uuid, client=sdk(user))
                == 404
            )
            assert (
                status_of(
                    marketplace_site_agent_identities_register_service.sync,
                    identity.uuid.hex,
                    client=sdk(user),
                    body=AgentServiceCreateRequest(name="report"),
                )
                == 404
            )
            # Their "offering" does not exist for them.
            response = self.as_user(user).post(
                "/api/marketplace-site-agent-identities/",
                {"offering": self.offering.uuid.hex, "name": "mine"},
                format="json",
            )
            assert (response.status_code, list(response.json())) == (400, ["offering"])
        assert not AgentService.objects.exists()
        assert AgentIdentity.objects.count() == 1

    def test_it_lets_a_provider_reader_look_but_not_register(self) -> None:
        identity = self.register(self.oscar)
        rita = sdk(self.rita)
        assert [i.uuid for i in marketplace_site_agent_identities_list.sync(client=rita)] == [identity.uuid]
        assert (
            status_of(
                marketplace_site_agent_identities_create.sync, client=rita, body=self.identity_request("r")
            )
            == 403
        )
        assert (
            status_of(
                marketplace_site_agent_identities_update.sync,
                identity.uuid.hex,
                client=rita,
                body=self.identity_request("renamed"),
            )
            == 403
        )
        assert (
            status_of(
                marketplace_site_agent_identities_register_service.sync,
                identity.uuid.hex,
                client=rita,
                body=AgentServiceCreateRequest(name="report"),
            )
            == 403
        )
        assert (
            status_of(marketplace_site_agent_identities_destroy.sync_detailed, identity.uuid, client=rita)
            == 403
        )
        assert AgentIdentity.objects.get().name == "agent-o"
        assert not AgentService.objects.exists()

    def test_it_answers_401_without_a_token(self) -> None:
        assert self.as_user(None).get("/api/marketplace-site-agent-identities/").status_code == 401
        assert self.as_user(None).get("/api/marketplace-offering-users/").status_code == 401


class OfferingUserTests(SiteAgentApiTestCase):
    @classmethod
    def setUpTestData(cls) -> None:
        super().setUpTestData()
        cls.bob_at_o = create_offering_user(
            actor=None, offering=cls.offering, user=cls.bob, username="bob_hpc"
        )
        cls.erin_at_o = create_offering_user(
            actor=None, offering=cls.offering, user=cls.erin, username="erin_hpc", is_restricted=True
        )
        cls.bob_at_b = create_offering_user(actor=None, offering=cls.basic, user=cls.bob, username="bob_b")

    def test_it_lists_the_offerings_users_as_the_agent_asks(self) -> None:
        fields = [
            OfferingUserFieldEnum.USER_UUID,
            OfferingUserFieldEnum.USERNAME,
            OfferingUserFieldEnum.URL,
            OfferingUserFieldEnum.STATE,
            OfferingUserFieldEnum.UUID,
            OfferingUserFieldEnum.USER_USERNAME,
            OfferingUserFieldEnum.USER_FULL_NAME,
            OfferingUserFieldEnum.USER_EMAIL,
        ]
        users = marketplace_offering_users_list.sync_all(
            client=sdk(self.oscar), offering_uuid=[self.offering.uuid], is_restricted=False, field=fields
        )
        [bob] = users
        assert (bob.uuid, bob.username, bob.user_uuid, bob.user_username, bob.state.value) == (
            self.bob_at_o.uuid,
            "bob_hpc",
            self.bob.uuid,
            "bob",
            "OK",
        )
        assert bob.url == f"http://testserver/api/marketplace-offering-users/{self.bob_at_o.uuid.hex}/"
        assert set(bob.to_dict()) == {f.value for f in fields}
        everything = marketplace_offering_users_list.sync_all(client=sdk(self.carol))
        assert {u.uuid for u in everything} == {self.bob_at_o.uuid, self.erin_at_o.uuid, self.bob_at_b.uuid}
        detail = marketplace_offering_users_retrieve.sync(self.erin_at_o.uuid, client=sdk(self.oscar))
        assert (detail.is_restricted, detail.offering_uuid, detail.customer_uuid) == (
            True,
            self.offering.uuid,
            self.provider_p.uuid,
        )

    def test_it_shows_people_their_own_offering_users_only(self) -> None:
        assert {u.uuid for u in marketplace_offering_users_list.sync_all(client=sdk(self.bob))} == {
            self.bob_at_o.uuid,
            self.bob_at_b.uuid,
        }
        assert marketplace_offering_users_list.sync_all(client=sdk(self.dave)) == []
        assert (
            status_of(marketplace_offering_users_retrieve.sync, self.bob_at_o.uuid, client=sdk(self.alice))
            == 404
        )

    def test_it_lets_the_provider_create_one_and_nobody_else(self) -> None:
        body = OfferingUserRequest(
            user=f"http://testserver/api/users/{self.alice.uuid.hex}/",
            offering=f"http://testserver/api/marketplace-provider-offerings/{self.offering.uuid.hex}/",
            username="alice_hpc",
        )
        assert status_of(marketplace_offering_users_create.sync, client=sdk(self.rita), body=body) == 403
        assert status_of(marketplace_offering_users_create.sync, client=sdk(self.alice), body=body) == 400
        created = marketplace_offering_users_create.sync(client=sdk(self.oscar), body=body)
        assert OfferingUser.objects.get(uuid=created.uuid).username == "alice_hpc"
        assert status_of(marketplace_offering_users_create.sync, client=sdk(self.carol), body=body) == 400
        assert OfferingUser.objects.filter(user=self.alice).count() == 1

    def test_it_links_per_user_usage_sent_with_an_offering_user_url(self) -> None:
        resource = make_resource(self.alice, self.carol, self.project_a1, self.offering)
        client = sdk(self.oscar)
        marketplace_component_usages_set_usage.sync_detailed(
            client=client,
            body=ComponentUsageCreateRequest(
                resource=resource.uuid, usages=[ComponentUsageItemRequest(type_="cpu", amount="10.00")]
            ),
        )
        usage = resource.usages.get()
        user_url = f"http://testserver/api/marketplace-offering-users/{self.bob_at_o.uuid.hex}/"
        body = ComponentUserUsageBulkCreateRequest(
            usages=[ComponentUserUsageCreateRequest(username="bob_hpc", usage="4.00", user=user_url)]
        )
        for _ in range(2):  # the agent sends the same again every cycle
            response = marketplace_component_usages_set_user_usages.sync_detailed(
                usage.uuid, client=client, body=body
            )
            assert response.status_code in (200, 201)
        row = ComponentUserUsage.objects.get()
        assert (row.username, row.user, row.usage) == ("bob_hpc", self.bob, Decimal("4.00"))
        assert UsageRevision.objects.filter(username="bob_hpc").count() == 1  # the repeat wrote nothing


class ResourceFieldsTheAgentReadsTests(SiteAgentApiTestCase):
    def test_it_sets_and_shows_access_endpoints(self) -> None:
        resource = make_resource(self.alice, self.carol, self.project_a1, self.offering)
        body = ResourceEndpointsRequest(
            endpoints=[
                ResourceEndpointRequest(name="login", url="ssh://login.example.org"),
                ResourceEndpointRequest(name="portal", url="https://portal.example.org"),
            ]
        )
        status = marketplace_provider_resources_set_endpoints.sync(
            resource.uuid.hex, client=sdk(self.oscar), body=body
        )
        assert status.status
        shown = marketplace_provider_resources_retrieve.sync(resource.uuid, client=sdk(self.carol))
        assert [(e.name, e.url) for e in shown.endpoints] == [
            ("login", "ssh://login.example.org"),
            ("portal", "https://portal.example.org"),
        ]
        marketplace_provider_resources_set_endpoints.sync(
            resource.uuid.hex, client=sdk(self.oscar), body=ResourceEndpointsRequest(endpoints=[])
        )
        assert not ResourceEndpoint.objects.exists()

    def test_it_refuses_endpoints_from_the_wrong_people_and_bad_input(self) -> None:
        resource = make_resource(self.alice, self.carol, self.project_a1, self.offering)
        body = ResourceEndpointsRequest(endpoints=[ResourceEndpointRequest(name="login", url="ssh://x")])
        for user in (self.alice, self.bob, self.dave):
            assert (
                status_of(
                    marketplace_provider_resources_set_endpoints.sync,
                    resource.uuid.hex,
                    client=sdk(user),
                    body=body,
                )
                == 404
            )
        assert (
            status_of(
                marketplace_provider_resources_set_endpoints.sync,
                resource.uuid.hex,
                client=sdk(self.rita),
                body=body,
            )
            == 403
        )
        url = f"/api/marketplace-provider-resources/{resource.uuid.hex}/set_endpoints/"
        response = self.as_user(self.carol).post(url, {"endpoints": [{"name": "login"}]}, format="json")
        assert (response.status_code, list(response.json())) == (400, ["endpoints"])
        assert self.as_user(self.carol).post(url, {}, format="json").status_code == 400
        assert not ResourceEndpoint.objects.exists()

        order = order_services.terminate_resource(resource=resource, user=self.alice)
        order_services.approve_order_by_provider(order=order, user=self.carol)
        order_services.complete_order(order=Order.objects.get(pk=order.pk), user=self.carol)
        assert (
            status_of(
                marketplace_provider_resources_set_endpoints.sync,
                resource.uuid.hex,
                client=sdk(self.carol),
                body=body,
            )
            == 409
        )

    def test_it_serves_the_fields_the_agent_names_accounts_after(self) -> None:
        self.offering.plugin_options = {"account_name_generation_policy": "project_slug"}
        self.offering.save(update_fields=["plugin_options"])
        order = make_order(self.alice, self.project_a1, self.offering, name="Big run")
        resource = Resource.objects.get(pk=order.resource_id)
        shown = marketplace_provider_resources_retrieve.sync(resource.uuid, client=sdk(self.oscar))
        assert shown.backend_id == ""
        assert shown.slug == resource.slug and shown.slug
        assert (shown.project_slug, shown.customer_slug) == (self.project_a1.slug, self.org_a.slug)
        assert shown.offering_plugin_options.additional_properties == {
            "account_name_generation_policy": "project_slug"
        }


class OrderRulesTheAgentReliesOnTests(SiteAgentApiTestCase):
    def test_approval_leaves_the_order_executing_for_the_agent(self) -> None:
        order = make_order(self.alice, self.project_a1, self.offering)
        marketplace_orders_approve_by_provider.sync(
            order.uuid.hex, client=sdk(self.oscar), body=OrderApproveByProviderRequest()
        )
        assert Order.objects.get(pk=order.pk).state == OrderState.EXECUTING.value

    def test_a_done_order_cannot_be_set_erred(self) -> None:
        order = make_order(self.alice, self.project_a1, self.offering)
        order_services.approve_order_by_provider(order=order, user=self.carol)
        order_services.complete_order(order=Order.objects.get(pk=order.pk), user=self.carol)
        body = OrderErrorDetailsRequest(error_message="too late")
        assert (
            status_of(
                marketplace_orders_set_state_erred.sync_detailed,
                order.uuid,
                client=sdk(self.oscar),
                body=body,
            )
            == 409
        )
        order.refresh_from_db()
        assert (order.state, order.error_message) == ("done", "")


class SiteAgentSchemaTests(SiteAgentApiTestCase):
    def test_it_documents_the_agent_operations_under_the_sdks_names(self) -> None:
        from efp.marketplace.tests.test_schema import generate_schema

        schema, problems = generate_schema()
        assert problems == []
        operations = {
            op["operationId"]: (method, path, set(op["responses"]))
            for path, item in schema["paths"].items()
            for method, op in item.items()
        }
        expected = {
            "marketplace_site_agent_identities_list": {"200"},
            "marketplace_site_agent_identities_create": {"201"},
            "marketplace_site_agent_identities_update": {"200"},
            "marketplace_site_agent_identities_destroy": {"204"},
            "marketplace_site_agent_identities_register_service": {"200", "201"},
            "marketplace_site_agent_services_register_processor": {"200", "201"},
            "marketplace_site_agent_processors_retrieve": {"200"},
            "marketplace_offering_users_list": {"200"},
            "marketplace_offering_users_create": {"201"},
            "marketplace_provider_resources_set_endpoints": {"200"},
        }
        for operation_id, codes in expected.items():
            assert {c for c in operations[operation_id][2] if c.startswith("2")} == codes, operation_id
        components = schema["components"]["schemas"]
        assert components["AgentServiceState"]["enum"] == ["Active", "Error", "Idle"]
        assert "Pending account linking" in components["OfferingUserState"]["enum"]


class DemoIsAgentReadyTests(TestCase):
    def test_the_demo_slurm_offering_can_be_served_by_an_agent(self) -> None:
        from efp.marketplace import demo

        demo.build()
        offering = Offering.objects.get(type="Marketplace.Slurm")
        assert set(offering.offering_users.values_list("username", "state")) == {
            ("pi_aurora", "OK"),
            ("member_aurora", "OK"),
        }
        assert not offering.components.filter(billing_type="fixed").exists()  # the agent stops on one
        assert offering.roles.filter(user__username="manager").exists()
        demo.build()  # idempotent
        assert offering.offering_users.count() == 2
