"""Every list we serve, read through the SDK's `sync_all`: it asks for pages of 100 and follows the `Link`
header's `rel="next"`, so each list here holds more than 100 rows and only a followed link reads them all.
Every row is parsed with the SDK's model of that list (orders: test_sdk_orders.py).
"""

from __future__ import annotations

import base64
from decimal import Decimal
from typing import Any

from django.contrib.auth.hashers import make_password
from django.test import LiveServerTestCase
from django.utils import timezone
from waldur_api_client.api.customers import customers_list
from waldur_api_client.api.marketplace_categories import marketplace_categories_list
from waldur_api_client.api.marketplace_component_usages import marketplace_component_usages_list
from waldur_api_client.api.marketplace_component_user_usages import marketplace_component_user_usages_list
from waldur_api_client.api.marketplace_plans import marketplace_plans_list
from waldur_api_client.api.marketplace_provider_offerings import marketplace_provider_offerings_list
from waldur_api_client.api.marketplace_provider_resources import marketplace_provider_resources_list
from waldur_api_client.api.marketplace_public_offerings import (
    marketplace_public_offerings_list,
    marketplace_public_offerings_plans_list,
)
from waldur_api_client.api.marketplace_resources import marketplace_resources_list
from waldur_api_client.api.marketplace_service_providers import (
    marketplace_service_providers_keys_list,
    marketplace_service_providers_list,
)
from waldur_api_client.api.projects import projects_list
from waldur_api_client.api.users import users_list

from efp.accounts.models import SshKey, User
from efp.accounts.services import fingerprints
from efp.marketplace.billing_months import billing_period_of
from efp.marketplace.models import (
    Category,
    ComponentUsage,
    ComponentUserUsage,
    Offering,
    OfferingType,
    Plan,
    Resource,
    ServiceProvider,
    scope_of,
)
from efp.marketplace.tests.live_world import World, build_world, sdk_client
from efp.marketplace.tests.test_service_provider_keys import BOB_KEY
from efp.structure.models import Customer, Project, ProjectRole
from efp.structure.roles import Role

ROWS = 105  # more than one page of `sync_all`'s 100


class SdkListsFollowEveryPageTests(LiveServerTestCase):
    world: World

    def setUp(self) -> None:
        self.world = build_world()
        self.bulk_rows()

    def bulk_rows(self) -> None:
        """ROWS more of everything, inserted in bulk (test data, not a flow under test)."""
        world, now = self.world, timezone.now()
        project, offering = world.resource.project, world.offering
        password = make_password(None)
        users = User.objects.bulk_create(User(username=f"user{i:03}", password=password) for i in range(ROWS))
        ProjectRole.objects.bulk_create(
            ProjectRole(project=project, user=user, role=Role.PROJECT_MEMBER) for user in users
        )
        key = fingerprints(base64.b64decode(BOB_KEY.split()[1]))
        SshKey.objects.bulk_create(
            SshKey(user=user, name=f"key {user.username}", public_key=BOB_KEY, **key) for user in users
        )
        customers = Customer.objects.bulk_create(
            Customer(name=f"Organisation {i:03}", slug=f"organisation-{i:03}") for i in range(ROWS)
        )
        ServiceProvider.objects.bulk_create(ServiceProvider(customer=customer) for customer in customers)
        categories = Category.objects.bulk_create(Category(title=f"Category {i:03}") for i in range(ROWS))
        offerings = Offering.objects.bulk_create(
            Offering(
                name=f"Offering {i:03}",
                slug=f"offering-{i:03}",
                customer=offering.customer,
                category=categories[i],
                type=OfferingType.SLURM,
                state=Offering.State.ACTIVE,
            )
            for i in range(ROWS)
        )
        Plan.objects.bulk_create(Plan(offering=o, name="Standard") for o in offerings)
        Plan.objects.bulk_create(Plan(offering=offering, name=f"Plan {i:03}") for i in range(ROWS))
        Project.objects.bulk_create(
            Project(customer=project.customer, name=f"Project {i:03}", slug=f"project-{i:03}")
            for i in range(ROWS)
        )
        resources = Resource.objects.bulk_create(
            Resource(
                name=f"alloc-{i:03}",
                slug=f"alloc-{i:03}",
                project=project,
                offering=offering,
                plan=world.resource.plan,
                state="OK",
            )
            for i in range(ROWS)
        )
        cpu = offering.components.get(type="cpu")
        usages = ComponentUsage.objects.bulk_create(
            ComponentUsage(
                resource=resource,
                **scope_of(resource),
                component=cpu,
                component_type=cpu.type,
                usage=Decimal(i),
                date=now,
                billing_period=billing_period_of(now),
            )
            for i, resource in enumerate(resources)
        )
        ComponentUserUsage.objects.bulk_create(
            ComponentUserUsage(component_usage=usages[0], username=user.username, usage=Decimal("1.5"))
            for user in users
        )

    def read_all(self, operation: Any, user: User, *args: Any, **filters: Any) -> list[Any]:
        rows = operation.sync_all(*args, client=sdk_client(self.live_server_url, user), **filters)
        assert len(rows) > 100, operation.__name__
        for row in rows:
            row.to_dict()  # parsed by the SDK's model; round-trips
        return rows  # type: ignore[no-any-return]

    def test_it_pages_through_every_marketplace_list(self) -> None:
        world = self.world
        provider = ServiceProvider.objects.get(customer=world.offering.customer)
        expected = {
            marketplace_provider_resources_list: (world.carol, Resource.objects.count()),
            marketplace_resources_list: (world.alice, Resource.objects.count()),
            marketplace_component_usages_list: (world.carol, ComponentUsage.objects.count()),
            marketplace_component_user_usages_list: (world.alice, ComponentUserUsage.objects.count()),
            marketplace_provider_offerings_list: (world.carol, Offering.objects.count()),
            marketplace_public_offerings_list: (world.alice, Offering.objects.count()),
            marketplace_plans_list: (world.alice, Plan.objects.count()),
            marketplace_categories_list: (world.alice, Category.objects.count()),
            marketplace_service_providers_list: (world.alice, ServiceProvider.objects.count()),
        }
        for operation, (user, count) in expected.items():
            with self.subTest(operation.__name__):
                rows = self.read_all(operation, user)
                assert len(rows) == count
                assert len({row.uuid for row in rows}) == count  # no row twice, none skipped
        plans = self.read_all(marketplace_public_offerings_plans_list, world.alice, world.offering.uuid)
        assert len(plans) == world.offering.plans.count()
        keys = self.read_all(marketplace_service_providers_keys_list, world.oscar, provider.uuid.hex)
        assert {key.user_uuid for key in keys} == set(SshKey.objects.values_list("user__uuid", flat=True))

    def test_it_pages_through_users_customers_and_projects(self) -> None:
        world = self.world
        users = self.read_all(users_list, world.staff)
        assert {u.username for u in users} == set(User.objects.values_list("username", flat=True))
        customers = self.read_all(customers_list, world.staff)
        assert len(customers) == Customer.objects.count()
        projects = self.read_all(projects_list, world.alice)
        assert {p.uuid for p in projects} == set(Project.objects.values_list("uuid", flat=True))
        filtered = projects_list.sync_all(
            client=sdk_client(self.live_server_url, world.alice), name="Project 10"
        )  # filters travel along with every page
        assert {p.name for p in filtered} == {f"Project {i}" for i in range(100, ROWS)}
