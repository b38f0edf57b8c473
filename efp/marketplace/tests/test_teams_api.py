"""Organisation and project teams and project management through Waldur's endpoints (issue 5).

alice owns organisation A; erin is admin and bob a member of project A1; dave is an outsider.
"""

from __future__ import annotations

import datetime
from typing import Any

from django.test import LiveServerTestCase
from django.utils import timezone
from waldur_api_client import AuthenticatedClient
from waldur_api_client.api.customers import customers_add_user, customers_list_users_list
from waldur_api_client.api.projects import (
    projects_add_user,
    projects_delete_user,
    projects_list_users_list,
    projects_update_user,
)
from waldur_api_client.models import UserRoleCreateRequest, UserRoleDeleteRequest, UserRoleUpdateRequest

from efp.accounts.models import User
from efp.marketplace.tests.base import MarketplaceTestCase
from efp.marketplace.tests.factories import make_customer, make_project, make_token, make_user
from efp.structure.models import CustomerRole, Project, ProjectRole
from efp.structure.roles import Role, role_uuid
from efp.structure.selectors import visible_projects


def later(days: int = 30) -> str:
    return (timezone.now() + datetime.timedelta(days=days)).isoformat()


class ProjectTeamApiTests(MarketplaceTestCase):
    def add(self, actor: Any, user: Any, role: str = "PROJECT.MEMBER", **extra: Any) -> Any:
        body = {"user": user.uuid.hex, "role": role, **extra}
        return self.as_user(actor).post(
            f"/api/projects/{self.project_a1.uuid.hex}/add_user/", body, format="json"
        )

    def test_it_lets_the_owner_add_a_member_with_an_expiry(self) -> None:
        expiry = later()
        response = self.add(self.alice, self.dave, expiration_time=expiry)
        assert response.status_code == 201, response.content
        grant = ProjectRole.objects.get(project=self.project_a1, user=self.dave)
        assert grant.role == Role.PROJECT_MEMBER and grant.created_by == self.alice
        assert response.json()["expiration_time"] == grant.expiration_time.isoformat().replace("+00:00", "Z")
        assert self.project_a1 in visible_projects(self.dave)

    def test_it_lets_a_project_admin_manage_the_team_but_not_a_member(self) -> None:
        assert self.add(self.erin, self.dave, "PROJECT.MANAGER").status_code == 201
        assert self.add(self.bob, self.staff).status_code == 403
        assert self.add(self.dave, self.staff).status_code == 403  # dave now sees A1 but is no admin
        outsider = make_user("olivia")
        assert self.add(outsider, self.staff).status_code == 404  # cannot see the project
        assert not ProjectRole.objects.filter(user=self.staff).exists()

    def test_it_accepts_the_role_by_uuid_and_refuses_roles_of_another_scope(self) -> None:
        by_uuid = self.add(self.alice, self.dave, role_uuid(Role.PROJECT_ADMIN).hex)
        assert by_uuid.status_code == 201, by_uuid.content
        wrong = self.add(self.alice, self.carol, "CUSTOMER.OWNER")
        assert wrong.status_code == 400 and "role" in wrong.json()
        unknown = self.add(self.alice, self.carol, "KING")
        assert unknown.json() == {"role": ["Role does not exist."]}
        assert not ProjectRole.objects.filter(user=self.carol).exists()

    def test_it_refuses_a_duplicate_a_past_expiry_and_an_unknown_user(self) -> None:
        assert self.add(self.alice, self.bob).json() == ["User already has role within this scope."]
        past = self.add(self.alice, self.dave, expiration_time="2001-01-01T00:00:00Z")
        assert past.json() == {"expiration_time": ["The expiration time must be in the future."]}
        body = {"user": "0" * 32, "role": "PROJECT.MEMBER"}
        response = self.as_user(self.alice).post(
            f"/api/projects/{self.project_a1.uuid.hex}/add_user/", body, format="json"
        )
        assert response.json() == {"user": ["User does not exist."]}
        assert not ProjectRole.objects.filter(user=self.dave).exists()

    def test_an_expired_role_grants_nothing_and_can_be_granted_again(self) -> None:
        ProjectRole.objects.filter(user=self.bob).update(expiration_time=timezone.now())
        assert self.project_a1 not in visible_projects(self.bob)
        assert self.as_user(self.bob).get(f"/api/projects/{self.project_a1.uuid.hex}/").status_code == 404
        listed = self.as_user(self.alice).get(f"/api/projects/{self.project_a1.uuid.hex}/list_users/").json()
        assert "bob" not in [row["user_username"] for row in listed]
        assert self.add(self.alice, self.bob).status_code == 201
        assert ProjectRole.all_objects.filter(user=self.bob).count() == 1
        assert self.project_a1 in visible_projects(self.bob)

    def test_it_lists_updates_and_removes_roles(self) -> None:
        url = f"/api/projects/{self.project_a1.uuid.hex}"
        rows = self.as_user(self.bob).get(f"{url}/list_users/?o=username").json()
        assert [(r["user_username"], r["role_name"]) for r in rows] == [
            ("bob", "PROJECT.MEMBER"),
            ("erin", "PROJECT.ADMIN"),
        ]
        assert rows[0]["role_uuid"] == role_uuid(Role.PROJECT_MEMBER).hex
        filtered = self.as_user(self.bob).get(f"{url}/list_users/?role=PROJECT.ADMIN").json()
        assert [r["user_username"] for r in filtered] == ["erin"]
        expiry = later(10)
        body = {"user": self.bob.uuid.hex, "role": "PROJECT.MEMBER", "expiration_time": expiry}
        updated = self.as_user(self.erin).post(f"{url}/update_user/", body, format="json")
        assert updated.status_code == 200, updated.content
        assert ProjectRole.objects.get(user=self.bob).expiration_time is not None
        body = {"user": self.bob.uuid.hex, "role": "PROJECT.MEMBER"}
        assert self.as_user(self.bob).post(f"{url}/delete_user/", body, format="json").status_code == 403
        assert self.as_user(self.erin).post(f"{url}/delete_user/", body, format="json").status_code == 200
        assert not ProjectRole.all_objects.filter(user=self.bob).exists()
        again = self.as_user(self.erin).post(f"{url}/delete_user/", body, format="json")
        assert again.json() == ["User does not have this role within this scope."]


class CustomerTeamApiTests(MarketplaceTestCase):
    def test_only_owners_manage_the_organisation_team_and_one_owner_stays(self) -> None:
        url = f"/api/customers/{self.org_a.uuid.hex}"
        body = {"user": self.erin.uuid.hex, "role": "CUSTOMER.OWNER"}
        assert self.as_user(self.erin).post(f"{url}/add_user/", body, format="json").status_code == 403
        assert self.as_user(self.alice).post(f"{url}/add_user/", body, format="json").status_code == 201
        last = {"user": self.alice.uuid.hex, "role": "CUSTOMER.OWNER"}
        assert self.as_user(self.erin).post(f"{url}/delete_user/", last, format="json").status_code == 200
        left = {"user": self.erin.uuid.hex, "role": "CUSTOMER.OWNER"}
        refused = self.as_user(self.erin).post(f"{url}/delete_user/", left, format="json")
        assert refused.status_code == 400
        assert list(
            CustomerRole.objects.filter(customer=self.org_a).values_list("user__username", flat=True)
        ) == ["erin"]

    def test_only_staff_edit_block_and_archive_an_organisation(self) -> None:
        url = f"/api/customers/{self.org_a.uuid.hex}/"
        assert self.as_user(self.alice).patch(url, {"blocked": True}, format="json").status_code == 403
        response = self.as_user(self.staff).patch(url, {"blocked": True, "name": "Org A"}, format="json")
        assert response.status_code == 200, response.content
        self.org_a.refresh_from_db()
        assert (self.org_a.blocked, self.org_a.name) == (True, "Org A")


class ProjectManagementApiTests(MarketplaceTestCase):
    def test_the_owner_edits_the_end_date_and_soft_deletes(self) -> None:
        url = f"/api/projects/{self.project_a1.uuid.hex}/"
        assert (
            self.as_user(self.erin).patch(url, {"end_date": "2031-01-01"}, format="json").status_code == 403
        )
        response = self.as_user(self.alice).patch(url, {"end_date": "2031-01-01"}, format="json")
        assert response.status_code == 200, response.content
        self.project_a1.refresh_from_db()
        assert str(self.project_a1.end_date) == "2031-01-01"
        assert self.project_a1.end_date_requested_by == self.alice
        assert response.json()["end_date_requested_by"].endswith(f"/api/users/{self.alice.uuid.hex}/")
        bad = self.as_user(self.alice).patch(url, {"start_date": "2032-01-01"}, format="json")
        assert bad.json() == {"end_date": ["The end date must not be before the start date."]}
        moved = make_customer("Elsewhere", owner=self.alice)
        other = {"customer": f"http://testserver/api/customers/{moved.uuid.hex}/"}
        assert self.as_user(self.alice).patch(url, other, format="json").status_code == 400
        assert self.as_user(self.bob).delete(url).status_code == 403
        assert self.as_user(self.alice).delete(url).status_code == 204
        assert Project.objects.get(pk=self.project_a1.pk).is_removed
        assert self.as_user(self.alice).get(url).status_code == 404

    def test_a_blocked_organisation_gets_no_new_project(self) -> None:
        self.org_a.blocked = True
        self.org_a.save()
        body = {"name": "A9", "customer": f"http://testserver/api/customers/{self.org_a.uuid.hex}/"}
        response = self.as_user(self.alice).post("/api/projects/", body, format="json")
        assert (response.status_code, response.json()) == (400, ["Blocked organization is not available."])
        assert not Project.objects.filter(name="A9").exists()


class SdkTeamTests(LiveServerTestCase):
    """Waldur's SDK calls the team endpoints unchanged."""

    def test_the_sdk_adds_lists_updates_and_removes_users(self) -> None:
        alice, bob = make_user("alice"), make_user("bob")
        org = make_customer("Organisation A", owner=alice)
        project = make_project(org, "Project A1")
        client = AuthenticatedClient(
            base_url=self.live_server_url,
            token=make_token(alice),
            prefix="Token",
            headers={"Connection": "close"},
        )
        expiry = timezone.now() + datetime.timedelta(days=5)
        added = projects_add_user.sync(
            project.uuid,
            client=client,
            body=UserRoleCreateRequest(role="PROJECT.MEMBER", user=bob.uuid, expiration_time=expiry),
        )
        assert added is not None and added.expiration_time is not None
        rows = projects_list_users_list.sync(project.uuid, client=client)
        assert [(r.user_username, r.role_name) for r in rows or []] == [("bob", "PROJECT.MEMBER")]
        assert rows is not None and rows[0].created_by_uuid == alice.uuid
        updated = projects_update_user.sync(
            project.uuid,
            client=client,
            body=UserRoleUpdateRequest(role="PROJECT.MEMBER", user=bob.uuid, expiration_time=None),
        )
        assert updated is not None and updated.expiration_time is None
        projects_delete_user.sync_detailed(
            project.uuid, client=client, body=UserRoleDeleteRequest(role="PROJECT.MEMBER", user=bob.uuid)
        )
        assert not ProjectRole.objects.filter(user=bob).exists()
        customers_add_user.sync(
            org.uuid, client=client, body=UserRoleCreateRequest(role="CUSTOMER.OWNER", user=bob.uuid)
        )
        owners = customers_list_users_list.sync(org.uuid, client=client)
        assert sorted(r.user_username for r in owners or []) == ["alice", "bob"]


class UserManagementApiTests(MarketplaceTestCase):
    def test_only_staff_create_and_deactivate_users(self) -> None:
        body = {
            "username": "nina",
            "email": "nina@example.org",
            "first_name": "Nina",
            "password": "s3cret-pass",
        }
        assert self.as_user(self.alice).post("/api/users/", body, format="json").status_code == 403
        created = self.as_user(self.staff).post("/api/users/", body, format="json")
        assert created.status_code == 201, created.content
        nina = User.objects.get(username="nina")
        assert nina.check_password("s3cret-pass") and created.json()["uuid"] == nina.uuid.hex
        again = self.as_user(self.staff).post("/api/users/", body, format="json")
        assert again.json() == {"username": ["A user with that username already exists."]}
        url = f"/api/users/{nina.uuid.hex}/"
        assert self.as_user(self.alice).patch(url, {"is_active": False}, format="json").status_code == 404
        assert self.as_user(self.staff).patch(url, {"is_active": False}, format="json").status_code == 200
        nina.refresh_from_db()
        assert not nina.is_active
        own = self.as_user(self.staff).patch(
            f"/api/users/{self.staff.uuid.hex}/", {"is_staff": False}, format="json"
        )
        assert own.status_code == 400
