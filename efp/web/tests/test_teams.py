"""Organisations, projects and teams in the GUI (issue 5): the same structure services as the API."""

from __future__ import annotations

from efp.structure.models import CustomerRole, Project, ProjectRole
from efp.web.tests.base import WebTestCase


class ProjectPagesTests(WebTestCase):
    def test_the_owner_creates_edits_and_removes_a_project(self) -> None:
        client = self.login(self.alice)
        created = client.post(
            f"/organisations/{self.org_a.uuid.hex}/projects/new/",
            {"name": "Project A2", "end_date": "2031-06-30"},
        )
        project = Project.objects.get(name="Project A2")
        assert created["Location"] == f"/projects/{project.uuid.hex}/"
        bad = client.post(
            f"/projects/{project.uuid.hex}/edit/",
            {"name": "Project A2", "start_date": "2032-01-01", "end_date": "2031-06-30"},
        )
        assert (
            bad.status_code == 400
            and "The end date must not be before the start date." in bad.content.decode()
        )
        client.post(f"/projects/{project.uuid.hex}/edit/", {"name": "Project A2", "end_date": "2031-12-31"})
        project.refresh_from_db()
        assert (str(project.end_date), project.end_date_requested_by) == ("2031-12-31", self.alice)
        assert client.post(f"/projects/{project.uuid.hex}/delete/").status_code == 302
        project.refresh_from_db()
        assert project.is_removed

    def test_a_project_admin_may_not_create_edit_or_remove_projects(self) -> None:
        client = self.login(self.erin)
        refused = client.get(f"/organisations/{self.org_a.uuid.hex}/projects/new/")
        assert refused.status_code == 403
        assert "Only organisation owners may create projects." in refused.content.decode()
        refused = client.post(f"/projects/{self.project_a1.uuid.hex}/edit/", {"name": "X"})
        assert refused.status_code == 403
        assert "Only organisation owners may edit projects." in refused.content.decode()
        refused = client.post(f"/projects/{self.project_a1.uuid.hex}/delete/")
        assert refused.status_code == 403
        assert "Only organisation owners may remove projects." in refused.content.decode()
        assert self.login(self.dave).get(f"/projects/{self.project_a1.uuid.hex}/").status_code == 404
        self.project_a1.refresh_from_db()
        assert (self.project_a1.name, self.project_a1.is_removed) == ("Project A1", False)


class TeamPagesTests(WebTestCase):
    def test_a_project_admin_adds_a_user_with_an_end_and_removes_them_after_confirming(self) -> None:
        client = self.login(self.erin)
        url = f"/projects/{self.project_a1.uuid.hex}/team/add/"
        added = client.post(
            url, {"username": "dave", "role": "PROJECT.MEMBER", "expiration_time": "2040-01-01T12:00"}
        )
        assert added.status_code == 302
        grant = ProjectRole.objects.get(user=self.dave)
        assert grant.expiration_time is not None and grant.expiration_time.year == 2040
        page = client.get(f"/projects/{self.project_a1.uuid.hex}/").content.decode()
        assert "2040-01-01 12:00" in page
        unknown = client.post(url, {"username": "nobody", "role": "PROJECT.MEMBER"})
        assert unknown.status_code == 400 and "No user has this username." in unknown.content.decode()
        twice = client.post(url, {"username": "dave", "role": "PROJECT.MEMBER"})
        assert "User already has role within this scope." in twice.content.decode()
        remove = f"/projects/{self.project_a1.uuid.hex}/team/{grant.uuid.hex}/remove/"
        assert "Remove dave as Project member?" in client.get(remove).content.decode()
        assert ProjectRole.objects.filter(user=self.dave).exists()
        assert client.post(remove).status_code == 302
        assert not ProjectRole.objects.filter(user=self.dave).exists()

    def test_a_member_may_not_change_the_team(self) -> None:
        response = self.login(self.bob).post(
            f"/projects/{self.project_a1.uuid.hex}/team/add/", {"username": "dave", "role": "PROJECT.ADMIN"}
        )
        assert response.status_code == 403
        assert not ProjectRole.objects.filter(user=self.dave).exists()

    def test_the_owner_manages_the_organisation_team_but_keeps_one_owner(self) -> None:
        client = self.login(self.alice)
        url = f"/organisations/{self.org_a.uuid.hex}/team/add/"
        assert client.post(url, {"username": "erin", "role": "CUSTOMER.OWNER"}).status_code == 302
        mine = CustomerRole.objects.get(user=self.alice)
        erin = CustomerRole.objects.get(user=self.erin)
        assert (
            client.post(f"/organisations/{self.org_a.uuid.hex}/team/{mine.uuid.hex}/remove/").status_code
            == 302
        )
        last = self.login(self.erin).post(
            f"/organisations/{self.org_a.uuid.hex}/team/{erin.uuid.hex}/remove/"
        )
        assert last.status_code == 400 and "at least one owner" in last.content.decode()
        assert list(
            CustomerRole.objects.filter(customer=self.org_a).values_list("user__username", flat=True)
        ) == ["erin"]

    def test_a_role_end_is_moved_or_removed_and_a_past_one_refused(self) -> None:
        client = self.login(self.alice)
        grant = ProjectRole.objects.get(user=self.bob)
        url = f"/projects/{self.project_a1.uuid.hex}/team/{grant.uuid.hex}/end/"
        assert self.login(self.bob).get(url).status_code == 403
        past = client.post(url, {"expiration_time": "2001-01-01T00:00"})
        assert (
            past.status_code == 400 and "The expiration time must be in the future." in past.content.decode()
        )
        assert client.post(url, {"expiration_time": "2039-02-03T04:05"}).status_code == 302
        grant.refresh_from_db()
        assert grant.expiration_time is not None and grant.expiration_time.year == 2039
        assert client.post(url, {"expiration_time": ""}).status_code == 302
        grant.refresh_from_db()
        assert grant.expiration_time is None


class ExpiredRoleTests(WebTestCase):
    def test_an_expired_provider_role_opens_no_workspace_and_names_none(self) -> None:
        from django.utils import timezone

        from efp.web.views.common import workspace_names

        assert workspace_names(self.rita) == "Provider P"
        CustomerRole.objects.filter(user=self.rita).update(expiration_time=timezone.now())
        assert workspace_names(self.rita) == ""
        assert self.login(self.rita).get("/provider/").status_code == 403
