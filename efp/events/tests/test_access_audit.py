"""The record of access: sign-ins, failed sign-ins, lockouts, API tokens and role changes, each with the
address it came from; staff list everyone's (API and admin), each person their own (API and profile)."""

from __future__ import annotations

import uuid
from typing import Any

from django.conf import settings
from django.test import Client
from rest_framework.test import APIClient

from efp.accounts.services import issue_token
from efp.events.models import Event
from efp.marketplace.tests.base import MarketplaceTestCase
from efp.marketplace.tests.factories import make_user

HOME, AWAY = "198.51.100.7", "203.0.113.9"


def gui_login(username: str, password: str, address: str = HOME) -> int:
    return (
        Client(REMOTE_ADDR=address).post("/login/", {"username": username, "password": password}).status_code
    )


def api_login(username: str, password: str, address: str = HOME) -> int:
    body = {"username": username, "password": password}
    return APIClient(REMOTE_ADDR=address).post("/api-auth/password/", body, format="json").status_code


class AccessRecordTests(MarketplaceTestCase):
    def latest(self, event_type: str) -> Event:
        event = Event.objects.filter(event_type=event_type).order_by("-pk").first()
        assert event is not None, f"no {event_type} event"
        return event

    def test_it_records_a_sign_in_in_the_gui_and_for_a_token_with_the_address(self) -> None:
        assert gui_login("bob", "bob") == 302
        event = self.latest("auth_logged_in_with_username")
        assert (event.user_id, event.actor_id) == (self.bob.pk, self.bob.pk)
        assert event.context["ip_address"] == HOME
        assert event.context["user_username"] == "bob"
        assert api_login("erin", "erin", AWAY) == 200
        event = self.latest("auth_logged_in_with_username")
        assert (event.user_id, event.context["ip_address"]) == (self.erin.pk, AWAY)

    def test_it_records_failed_sign_ins_of_known_and_unknown_usernames(self) -> None:
        assert gui_login("bob", "wrong") == 200
        failed = self.latest("auth_login_failed_with_username")
        assert (failed.user_id, failed.context["username"], failed.context["ip_address"]) == (
            self.bob.pk,
            "bob",
            HOME,
        )
        assert "wrong" not in str(failed.context)  # never the password
        assert api_login("nobody", "x", AWAY) == 401
        failed = self.latest("auth_login_failed_with_username")
        assert (failed.user_id, failed.context["username"], failed.context["ip_address"]) == (
            None,
            "nobody",
            AWAY,
        )

    def test_it_records_a_lockout_once_the_failure_limit_is_reached(self) -> None:
        for _ in range(settings.AXES_FAILURE_LIMIT):
            api_login("dave", "wrong", AWAY)
        locked = self.latest("auth_locked_out")
        assert (locked.user_id, locked.context["username"], locked.context["ip_address"]) == (
            self.dave.pk,
            "dave",
            AWAY,
        )
        assert Event.objects.filter(event_type="auth_locked_out").count() == 1

    def test_it_records_token_creation_use_from_a_new_address_and_revocation(self) -> None:
        carol = self.as_user(self.carol)
        carol.defaults["REMOTE_ADDR"] = HOME
        made = carol.post("/api/api-tokens/", {"name": "site agent"}, format="json")
        assert made.status_code == 201, made.content
        token_uuid, key = made.json()["uuid"], made.json()["key"]
        for address in (HOME, AWAY):  # the first use notes the address; the second is from a new one
            agent = APIClient(REMOTE_ADDR=address, HTTP_AUTHORIZATION=f"Token {key}")
            assert agent.get("/api/users/me/").status_code == 200
        staff = self.as_user(self.staff)
        assert staff.post(f"/api/api-tokens/{token_uuid}/revoke/").status_code == 200
        mine = Event.objects.filter(context__pat_uuid=uuid.UUID(token_uuid).hex).order_by("pk")
        created, used, revoked = mine
        assert [e.event_type for e in mine] == ["pat_created", "pat_used_from_new_ip", "pat_revoked"]
        assert {e.user_id for e in (created, used, revoked)} == {self.carol.pk}
        assert {e.context["pat_uuid"] for e in (created, used, revoked)} == {uuid.UUID(token_uuid).hex}
        assert (created.context["ip_address"], used.context["ip_address"]) == (HOME, AWAY)
        assert (created.actor_id, revoked.actor_id) == (self.carol.pk, self.staff.pk)
        assert revoked.context["pat_name"] == "site agent"
        assert key not in str([e.context for e in (created, used, revoked)])  # never the key

    def test_it_records_the_address_of_a_role_grant_and_removal(self) -> None:
        alice = self.as_user(self.alice)
        alice.defaults["REMOTE_ADDR"] = AWAY
        url = f"/api/projects/{self.project_a1.uuid.hex}/"
        body = {"user": self.dave.uuid.hex, "role": "PROJECT.MEMBER"}
        assert alice.post(url + "add_user/", body, format="json").status_code == 201
        assert alice.post(url + "delete_user/", body, format="json").status_code == 200
        granted, revoked = self.latest("role_granted"), self.latest("role_revoked")
        assert (granted.user_id, granted.context["ip_address"]) == (self.dave.pk, AWAY)
        assert (revoked.user_id, revoked.context["ip_address"]) == (self.dave.pk, AWAY)


class AccessEventsApiTests(MarketplaceTestCase):
    @classmethod
    def setUpTestData(cls) -> None:
        super().setUpTestData()
        gui_login("bob", "bob")
        gui_login("dave", "wrong", AWAY)
        issue_token(user=cls.carol, name="site agent", address=HOME)

    def listed(self, user: Any, **params: Any) -> list[tuple[str, str]]:
        response = self.as_user(user).get("/api/access-events/", params)
        assert response.status_code == 200, response.content
        # The person: whom a role event names, else whose sign-in or token it is.
        context = [e["context"] for e in response.json()]
        person = [c.get("affected_user_username") or c.get("user_username", "") for c in context]
        return [(e["event_type"], who) for e, who in zip(response.json(), person, strict=True)]

    def test_it_lists_everyones_record_to_staff(self) -> None:
        seen = self.listed(self.staff)
        assert ("auth_logged_in_with_username", "bob") in seen
        assert ("auth_login_failed_with_username", "dave") in seen
        assert ("pat_created", "carol") in seen
        assert {("role_granted", "alice"), ("role_granted", "bob"), ("role_granted", "oscar")} <= set(seen)
        assert all(t not in {"customer_creation_succeeded", "project_creation_succeeded"} for t, _ in seen)

    def test_it_lists_to_each_person_only_their_own(self) -> None:
        bobs = self.listed(self.bob)
        assert ("auth_logged_in_with_username", "bob") in bobs
        assert ("role_granted", "bob") in bobs  # his membership of project A1
        assert {who for _, who in bobs} == {"bob"}
        # alice owns bob's organisation: she sees his role event in /api/events/, not in the access record.
        assert {who for _, who in self.listed(self.alice)} == {"alice"}
        assert self.listed(self.dave) == [("auth_login_failed_with_username", "dave")]
        assert {who for _, who in self.listed(self.oscar)} == {"oscar"}

    def test_it_filters_by_type_person_and_time(self) -> None:
        bob = self.bob.uuid.hex
        assert self.listed(self.staff, event_type="auth_logged_in_with_username", user_uuid=bob) == [
            ("auth_logged_in_with_username", "bob")
        ]
        carol = self.carol.uuid.hex
        assert self.listed(self.staff, event_type="pat_created", user_uuid=carol) == [
            ("pat_created", "carol")
        ]
        assert self.listed(self.staff, created_from="2999-01-01T00:00:00Z") == []
        response = self.as_user(self.staff).get("/api/access-events/", {"created_from": "soon"})
        assert response.status_code == 400

    def test_it_paginates_as_waldur_does(self) -> None:
        response = self.as_user(self.staff).get("/api/access-events/", {"page_size": 1})
        assert len(response.json()) == 1
        assert int(response["X-Result-Count"]) > 1
        assert 'rel="next"' in response["Link"]

    def test_it_answers_401_to_the_anonymous(self) -> None:
        assert APIClient().get("/api/access-events/").status_code == 401

    def test_it_shows_a_person_their_own_on_the_profile_page(self) -> None:
        client = Client()
        client.force_login(self.bob)
        page = client.get("/profile/").content.decode()
        assert "Access record" in page
        assert "User bob logged in with username and password." in page
        assert HOME in page
        assert "dave" not in page and "carol" not in page

    def test_it_lists_everyones_in_the_admin_read_only(self) -> None:
        root = make_user("root", is_staff=True, is_superuser=True)
        admin = Client()
        admin.force_login(root)
        page = admin.get("/admin/events/accessevent/")
        assert page.status_code == 200
        text = page.content.decode()
        assert "Failed login for dave." in text and AWAY in text
        assert "project_creation_succeeded" not in text
        assert admin.get("/admin/events/accessevent/add/").status_code == 403
        event = Event.objects.filter(event_type="pat_created").get()
        change = f"/admin/events/accessevent/{event.pk}/change/"
        assert admin.get(change).status_code == 200  # a view-only page
        assert admin.post(change, {"message": "rewritten"}).status_code == 403
        assert admin.post(f"/admin/events/accessevent/{event.pk}/delete/").status_code == 403
        event.refresh_from_db()
        assert event.message.startswith("API token 'site agent' of carol")
