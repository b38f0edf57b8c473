"""Waldur's SDK against a live server: the catalogue (offerings, plans, categories, service providers and
their SSH keys) and the structure (users, customers, projects, version, password login) that scripts and
the site agent read, plus the staff writes we serve. Every answer goes through the SDK's own models.
"""

from __future__ import annotations

import datetime

from django.test import LiveServerTestCase
from waldur_api_client import AuthenticatedClient, Client
from waldur_api_client.api.api_auth import api_auth_password
from waldur_api_client.api.customers import (
    customers_count,
    customers_create,
    customers_list,
    customers_retrieve,
)
from waldur_api_client.api.marketplace_categories import (
    marketplace_categories_count,
    marketplace_categories_create,
    marketplace_categories_list,
    marketplace_categories_retrieve,
)
from waldur_api_client.api.marketplace_plans import (
    marketplace_plans_count,
    marketplace_plans_create,
    marketplace_plans_list,
    marketplace_plans_retrieve,
)
from waldur_api_client.api.marketplace_provider_offerings import (
    marketplace_provider_offerings_count,
    marketplace_provider_offerings_create,
    marketplace_provider_offerings_create_offering_component,
    marketplace_provider_offerings_list,
    marketplace_provider_offerings_retrieve,
)
from waldur_api_client.api.marketplace_public_offerings import (
    marketplace_public_offerings_count,
    marketplace_public_offerings_list,
    marketplace_public_offerings_plans_list,
    marketplace_public_offerings_plans_retrieve,
    marketplace_public_offerings_retrieve,
)
from waldur_api_client.api.marketplace_resources import marketplace_resources_list
from waldur_api_client.api.marketplace_service_providers import (
    marketplace_service_providers_count,
    marketplace_service_providers_keys_count,
    marketplace_service_providers_keys_list,
    marketplace_service_providers_list,
    marketplace_service_providers_retrieve,
)
from waldur_api_client.api.projects import projects_count, projects_create, projects_list, projects_retrieve
from waldur_api_client.api.users import (
    users_count,
    users_create,
    users_list,
    users_me_retrieve,
    users_partial_update,
    users_retrieve,
    users_update,
)
from waldur_api_client.api.version import version_retrieve
from waldur_api_client.errors import UnexpectedStatus
from waldur_api_client.models import (
    BillingTypeEnum,
    CustomerRequest,
    MarketplaceCategoryRequest,
    ObtainAuthTokenRequest,
    OfferingComponentRequest,
    OfferingCreateRequest,
    OfferingState,
    PatchedUserRequest,
    ProjectRequest,
    ProviderPlanDetailsRequest,
    UserRequest,
)

from efp.accounts.models import User
from efp.accounts.services import add_ssh_key
from efp.marketplace.models import Category, Offering, Plan, ServiceProvider
from efp.marketplace.tests.factories import make_offering, make_user, plan_of
from efp.marketplace.tests.live_world import World, build_world, sdk_client
from efp.marketplace.tests.test_service_provider_keys import BOB_KEY, BOB_SHA256
from efp.structure.models import Customer, Project
from efp.structure.roles import Role
from efp.structure.services import grant_project_role


class SdkCatalogueTests(LiveServerTestCase):
    world: World

    def setUp(self) -> None:
        self.world = build_world()
        self.offering = self.world.offering
        self.provider = self.offering.customer
        self.carol = sdk_client(self.live_server_url, self.world.carol)
        self.alice = sdk_client(self.live_server_url, self.world.alice)
        self.staff = sdk_client(self.live_server_url, self.world.staff)

    def test_it_serves_the_offerings_a_provider_and_a_consumer_read(self) -> None:
        private = make_offering(self.provider, name="Internal", shared=False, billable=False)
        offering = marketplace_provider_offerings_retrieve.sync(self.offering.uuid, client=self.carol)
        components = {c.type_: c for c in offering.components}
        assert components["cpu"].billing_type == BillingTypeEnum.USAGE
        assert components["storage"].billing_type == BillingTypeEnum.LIMIT
        assert (offering.type_, offering.customer_uuid, offering.state) == (
            "Marketplace.Slurm",
            self.provider.uuid,
            OfferingState.ACTIVE,
        )
        mine = marketplace_provider_offerings_list.sync(client=self.carol)
        assert {o.uuid for o in mine} == {self.offering.uuid, private.uuid}
        assert marketplace_provider_offerings_count.sync(client=self.carol) == 2
        assert marketplace_provider_offerings_count.sync(client=self.alice) == 0  # not a provider

        public = marketplace_public_offerings_list.sync(client=self.alice)
        assert [o.uuid for o in public] == [self.offering.uuid]  # the private one is not for organisation A
        assert marketplace_public_offerings_count.sync(client=self.alice) == 1
        detail = marketplace_public_offerings_retrieve.sync(self.offering.uuid, client=self.alice)
        plan = plan_of(self.offering)
        assert [p.uuid for p in detail.plans] == [plan.uuid]
        public_plan = marketplace_public_offerings_plans_retrieve.sync(
            self.offering.uuid.hex, plan.uuid.hex, client=self.alice
        )
        assert (public_plan.uuid, public_plan.url) == (plan.uuid, detail.plans[0].url)
        [listed_plan] = marketplace_public_offerings_plans_list.sync(self.offering.uuid, client=self.alice)
        assert (listed_plan.uuid, listed_plan.url) == (plan.uuid, detail.plans[0].url)
        provider_plan = marketplace_plans_retrieve.sync(plan.uuid, client=self.carol)
        assert provider_plan.quotas.additional_properties == {"cpu": 0, "gpu": 0, "storage": 0, "support": 0}
        plans = marketplace_plans_list.sync(client=self.carol)
        assert {p.uuid for p in plans} == {plan.uuid, plan_of(private).uuid}
        assert marketplace_plans_count.sync(client=self.alice) == 1

    def test_it_serves_service_providers_and_their_keys(self) -> None:
        bob = make_user("bob")
        grant_project_role(project=self.world.resource.project, user=bob, role=Role.PROJECT_MEMBER)
        key = add_ssh_key(user=bob, public_key=BOB_KEY)
        provider = ServiceProvider.objects.get(customer=self.provider)
        [listed] = marketplace_service_providers_list.sync(
            client=self.carol, customer_uuid=self.provider.uuid
        )
        assert (listed.uuid, listed.customer_uuid) == (provider.uuid, self.provider.uuid)
        assert marketplace_service_providers_count.sync(client=self.alice) == 1
        assert marketplace_service_providers_retrieve.sync(
            provider.uuid, client=self.alice
        ).customer_name == ("Provider P")
        oscar = sdk_client(self.live_server_url, self.world.oscar)  # how the site agent asks for them
        [found] = marketplace_service_providers_keys_list.sync(provider.uuid.hex, client=oscar)
        assert (found.uuid, found.public_key, found.fingerprint_sha256) == (key.uuid, BOB_KEY, BOB_SHA256)
        assert found.user_uuid == bob.uuid
        assert marketplace_service_providers_keys_count.sync(provider.uuid.hex, client=oscar) == 1
        with self.assertRaises(UnexpectedStatus) as refused:
            marketplace_service_providers_keys_list.sync(provider.uuid.hex, client=self.alice)
        assert refused.exception.status_code == 403

    def test_it_serves_users_customers_projects_version_and_password_login(self) -> None:
        me = users_me_retrieve.sync(client=self.carol)
        assert (me.username, me.uuid) == ("carol", self.world.carol.uuid)
        assert users_retrieve.sync(me.uuid, client=self.carol).username == "carol"
        assert [u.username for u in users_list.sync(client=self.carol)] == ["carol"]  # only oneself
        assert users_count.sync(client=self.staff) == 4
        assert version_retrieve.sync(client=self.carol).version

        org_a = self.world.resource.project.customer
        assert customers_retrieve.sync(org_a.uuid, client=self.alice).name == "Organisation A"
        assert [c.uuid for c in customers_list.sync(client=self.alice)] == [org_a.uuid]
        assert customers_count.sync(client=self.staff) == 2
        project = self.world.resource.project
        assert projects_retrieve.sync(project.uuid, client=self.alice).customer_uuid == org_a.uuid
        assert [p.uuid for p in projects_list.sync(client=self.alice)] == [project.uuid]
        assert projects_count.sync(client=self.carol) == 0

        anonymous = Client(base_url=self.live_server_url, headers={"Connection": "close"})
        token = api_auth_password.sync(
            client=anonymous,  # type: ignore[arg-type]
            body=ObtainAuthTokenRequest(username="alice", password="alice"),
        )
        key = token.token  # type: ignore[union-attr]
        # A new token at each login (docs/compatibility.md, "Authentication"): it works as alice's.
        signed_in = AuthenticatedClient(
            base_url=self.live_server_url, token=key, headers={"Connection": "close"}
        )
        assert users_me_retrieve.sync(client=signed_in).username == "alice"  # type: ignore[union-attr]

    def test_it_serves_the_staff_writes(self) -> None:
        customer = customers_create.sync(client=self.staff, body=CustomerRequest(name="Organisation C"))
        assert Customer.objects.get(uuid=customer.uuid).name == "Organisation C"
        project = projects_create.sync(
            client=self.staff, body=ProjectRequest(name="Project C1", customer=customer.url)
        )
        assert Project.objects.get(uuid=project.uuid).customer.uuid == customer.uuid
        category = marketplace_categories_create.sync(
            client=self.staff, body=MarketplaceCategoryRequest(title="Storage")
        )
        assert marketplace_categories_retrieve.sync(category.uuid, client=self.alice).title == "Storage"
        assert {c.title for c in marketplace_categories_list.sync(client=self.alice)} == {"HPC", "Storage"}
        assert marketplace_categories_count.sync(client=self.alice) == 2

        offering = marketplace_provider_offerings_create.sync(
            client=self.staff,
            body=OfferingCreateRequest(
                name="Archive",
                category=category.url,
                type_="Marketplace.Basic",
                customer=f"{self.live_server_url}/api/customers/{self.provider.uuid.hex}/",
            ),
        )
        stored = Offering.objects.get(uuid=offering.uuid)
        assert (stored.name, stored.customer, stored.category.title) == ("Archive", self.provider, "Storage")
        response = marketplace_provider_offerings_create_offering_component.sync_detailed(
            offering.uuid,
            client=self.staff,
            body=OfferingComponentRequest(
                billing_type=BillingTypeEnum.LIMIT, type_="tape", name="Tape", measured_unit="TB"
            ),
        )
        assert response.status_code == 201
        assert stored.components.get().type == "tape"
        plan = marketplace_plans_create.sync(
            client=self.staff,
            body=ProviderPlanDetailsRequest(
                name="Yearly",
                offering=f"{self.live_server_url}/api/marketplace-provider-offerings/{offering.uuid.hex}/",
            ),
        )
        assert Plan.objects.get(uuid=plan.uuid).offering == stored
        with self.assertRaises(UnexpectedStatus) as refused:
            marketplace_categories_create.sync(client=self.carol, body=MarketplaceCategoryRequest(title="X"))
        assert refused.exception.status_code == 403
        assert not Category.objects.filter(title="X").exists()

    def test_it_lets_staff_create_and_edit_users(self) -> None:
        created = users_create.sync(
            client=self.staff, body=UserRequest(username="nora", email="nora@example.org", organization="HPC")
        )
        nora = User.objects.get(uuid=created.uuid)
        assert (nora.username, nora.email, nora.organization) == ("nora", "nora@example.org", "HPC")
        users_update.sync(
            created.uuid, client=self.staff, body=UserRequest(username="nora", email="nora@hpc.example.org")
        )
        patched = users_partial_update.sync(
            created.uuid, client=self.staff, body=PatchedUserRequest(is_active=False)
        )
        assert (patched.email, patched.is_active) == ("nora@hpc.example.org", False)
        nora.refresh_from_db()
        assert (nora.email, nora.is_active) == ("nora@hpc.example.org", False)
        with self.assertRaises(UnexpectedStatus) as refused:
            users_create.sync(client=self.carol, body=UserRequest(username="eve", email="eve@example.org"))
        assert refused.exception.status_code == 403
        assert not User.objects.filter(username="eve").exists()

    def test_it_narrows_lists_by_the_filters_scripts_use(self) -> None:
        """Filters we do not know are ignored (docs/compatibility.md lists them); these we apply."""
        staff, world = self.staff, self.world
        make_user("nora", is_active=False)
        assert [u.username for u in users_list.sync(client=staff, username="carol")] == ["carol"]
        assert [u.username for u in users_list.sync(client=staff, is_active=False)] == ["nora"]
        assert [u.username for u in users_list.sync(client=staff, email="ALICE@")] == ["alice"]
        org = world.resource.project.customer
        assert [c.uuid for c in customers_list.sync(client=staff, name_exact="Organisation A")] == [org.uuid]
        assert customers_list.sync(client=staff, name_exact="Organisation") == []
        assert [c.uuid for c in customers_list.sync(client=staff, slug=org.slug)] == [org.uuid]
        project = world.resource.project
        assert [p.uuid for p in projects_list.sync(client=self.alice, slug=project.slug)] == [project.uuid]
        assert [p.uuid for p in projects_list.sync(client=self.alice, customer_name="organisation a")] == [
            project.uuid
        ]
        assert projects_list.sync(client=self.alice, name_exact="Project") == []
        later = project.created + datetime.timedelta(seconds=1)
        assert projects_list.sync(client=self.alice, created_before=project.created) == []
        assert len(projects_list.sync(client=self.alice, created_before=later)) == 1
        offering = self.offering
        found = marketplace_provider_offerings_list.sync(client=self.carol, slug=offering.slug)
        assert [o.uuid for o in found] == [offering.uuid]
        assert marketplace_public_offerings_list.sync(client=self.alice, name_exact="Offering") == []
        assert len(marketplace_public_offerings_list.sync(client=self.alice, modified=offering.modified)) == 1
        resource = world.resource
        assert marketplace_resources_list.sync(client=self.alice, created_before=resource.created) == []
        assert [
            r.uuid for r in marketplace_resources_list.sync(client=self.alice, modified=resource.modified)
        ] == [resource.uuid]
