"""Waldur's SDK against a live server: organisation and project teams (add, update, list, delete users with
roles and expiry) and the owner's edits of organisations and projects. Answers are parsed by the SDK.

alice owns organisation A (project A1); staff edits organisations; bob is the user being added.
"""

from __future__ import annotations

import datetime

from django.test import LiveServerTestCase
from django.utils import timezone
from waldur_api_client.api.customers import (
    customers_add_user,
    customers_delete_user,
    customers_list_users_count,
    customers_list_users_list,
    customers_partial_update,
    customers_update,
    customers_update_user,
)
from waldur_api_client.api.projects import (
    projects_add_user,
    projects_delete_user,
    projects_destroy,
    projects_list_users_count,
    projects_list_users_list,
    projects_partial_update,
    projects_update,
    projects_update_user,
)
from waldur_api_client.errors import UnexpectedStatus
from waldur_api_client.models import (
    CustomerRequest,
    PatchedCustomerRequest,
    PatchedProjectRequest,
    ProjectRequest,
    UserRoleCreateRequest,
    UserRoleDeleteRequest,
    UserRoleUpdateRequest,
)

from efp.marketplace.tests.factories import make_user
from efp.marketplace.tests.live_world import World, build_world, sdk_client
from efp.structure.models import Customer, CustomerRole, Project, ProjectRole
from efp.structure.roles import Role


class SdkTeamTests(LiveServerTestCase):
    world: World

    def setUp(self) -> None:
        self.world = build_world()
        self.project = self.world.resource.project
        self.org = self.project.customer
        self.bob = make_user("bob")
        self.alice = sdk_client(self.live_server_url, self.world.alice)

    def test_it_manages_a_project_team(self) -> None:
        until = (timezone.now() + datetime.timedelta(days=30)).replace(microsecond=0)
        added = projects_add_user.sync(
            self.project.uuid,
            client=self.alice,
            body=UserRoleCreateRequest(
                role=Role.PROJECT_MEMBER.value, user=self.bob.uuid, expiration_time=until
            ),
        )
        assert added.expiration_time == until  # type: ignore[union-attr]
        grant = ProjectRole.objects.get(project=self.project, user=self.bob)
        assert (grant.role, grant.expiration_time) == (Role.PROJECT_MEMBER, until)

        updated = projects_update_user.sync(
            self.project.uuid,
            client=self.alice,
            body=UserRoleUpdateRequest(
                role=Role.PROJECT_MEMBER.value, user=self.bob.uuid, expiration_time=None
            ),
        )
        assert updated.expiration_time is None
        [row] = projects_list_users_list.sync(self.project.uuid, client=self.alice)
        assert (row.user_username, row.role_name, row.expiration_time) == ("bob", "PROJECT.MEMBER", None)
        assert projects_list_users_count.sync(self.project.uuid, client=self.alice) == 1

        response = projects_delete_user.sync_detailed(
            self.project.uuid,
            client=self.alice,
            body=UserRoleDeleteRequest(role=Role.PROJECT_MEMBER.value, user=self.bob.uuid),
        )
        assert response.status_code == 200
        assert not ProjectRole.objects.filter(project=self.project, user=self.bob).exists()
        outsider = sdk_client(self.live_server_url, self.bob)
        with self.assertRaises(UnexpectedStatus) as refused:
            projects_list_users_list.sync(self.project.uuid, client=outsider)
        assert refused.exception.status_code == 404

    def test_it_manages_an_organisation_team(self) -> None:
        customers_add_user.sync(
            self.org.uuid,
            client=self.alice,
            body=UserRoleCreateRequest(role=Role.CUSTOMER_MANAGER.value, user=self.bob.uuid),
        )
        assert CustomerRole.objects.filter(
            customer=self.org, user=self.bob, role=Role.CUSTOMER_MANAGER
        ).exists()
        rows = customers_list_users_list.sync(self.org.uuid, client=self.alice)
        assert {(r.user_username, r.role_name) for r in rows} == {
            ("alice", "CUSTOMER.OWNER"),
            ("bob", "CUSTOMER.MANAGER"),
        }
        assert customers_list_users_count.sync(self.org.uuid, client=self.alice) == 2
        until = (timezone.now() + datetime.timedelta(days=7)).replace(microsecond=0)
        customers_update_user.sync(
            self.org.uuid,
            client=self.alice,
            body=UserRoleUpdateRequest(
                role=Role.CUSTOMER_MANAGER.value, user=self.bob.uuid, expiration_time=until
            ),
        )
        assert CustomerRole.objects.get(customer=self.org, user=self.bob).expiration_time == until
        customers_delete_user.sync_detailed(
            self.org.uuid,
            client=self.alice,
            body=UserRoleDeleteRequest(role=Role.CUSTOMER_MANAGER.value, user=self.bob.uuid),
        )
        assert not CustomerRole.objects.filter(customer=self.org, user=self.bob).exists()

    def test_it_edits_and_removes_projects_and_organisations(self) -> None:
        customer_url = f"{self.live_server_url}/api/customers/{self.org.uuid.hex}/"
        renamed = projects_update.sync(
            self.project.uuid,
            client=self.alice,
            body=ProjectRequest(name="Project A1 (2027)", customer=customer_url, description="Renewed"),
        )
        assert (renamed.name, renamed.description) == ("Project A1 (2027)", "Renewed")
        patched = projects_partial_update.sync(
            self.project.uuid, client=self.alice, body=PatchedProjectRequest(description="Renewed again")
        )
        assert patched.description == "Renewed again"
        assert Project.objects.get(pk=self.project.pk).name == "Project A1 (2027)"

        staff = sdk_client(self.live_server_url, self.world.staff)
        customers_update.sync(self.org.uuid, client=staff, body=CustomerRequest(name="Organisation A2"))
        customers_partial_update.sync(
            self.org.uuid, client=staff, body=PatchedCustomerRequest(abbreviation="OA")
        )
        org = Customer.objects.get(pk=self.org.pk)
        assert (org.name, org.abbreviation) == ("Organisation A2", "OA")
        with self.assertRaises(UnexpectedStatus) as refused:
            customers_partial_update.sync(
                self.org.uuid, client=self.alice, body=PatchedCustomerRequest(name="X")
            )
        assert refused.exception.status_code == 403

        spare = Project.objects.create(customer=self.org, name="Spare", slug="spare")
        assert projects_destroy.sync_detailed(spare.uuid, client=self.alice).status_code == 204
        assert Project.objects.get(pk=spare.pk).is_removed  # soft-deleted: orders and resources stay
