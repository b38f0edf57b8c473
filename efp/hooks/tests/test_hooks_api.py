"""`/api/hooks-web/`, `/api/hooks-email/` and `/api/hooks/` per persona: carol (provider P's owner) keeps
her hooks, dave (an outsider) cannot see them, staff sees and edits everybody's; bad bodies get 400s."""

from __future__ import annotations

from django.db import connection
from django.test import override_settings
from django.test.utils import CaptureQueriesContext

from efp.events.catalogue import GROUPS
from efp.hooks import services
from efp.hooks.models import EmailHook, WebHook
from efp.marketplace.tests.base import MarketplaceTestCase

RECEIVER = "http://127.0.0.1:9/hook/"


@override_settings(WEBHOOK_ALLOW_PRIVATE=True)
class WebHookApiTests(MarketplaceTestCase):
    def create(self, user: object = None, **body: object) -> object:
        payload = {"destination_url": RECEIVER, "event_types": ["marketplace_order_created"], **body}
        return self.as_user(user or self.carol).post("/api/hooks-web/", payload, format="json")  # type: ignore[arg-type]

    def test_it_creates_a_hook_and_shows_its_secret_once(self) -> None:
        response = self.create(event_groups=["efp"], content_type="form")
        assert response.status_code == 201, response.json()  # type: ignore[attr-defined]
        body = response.json()  # type: ignore[attr-defined]
        hook = WebHook.objects.get()
        assert body["secret"] == hook.secret and len(hook.secret) >= 40
        assert body["uuid"] == hook.uuid.hex
        assert body["url"] == f"http://testserver/api/hooks-web/{hook.uuid.hex}/"
        assert body["hook_type"] == "webhook"
        assert body["content_type"] == "form"
        assert body["event_groups"] == ["efp"]
        assert body["event_types"] == sorted({"marketplace_order_created", *GROUPS["efp"]})
        assert (body["author_uuid"], body["author_username"]) == (self.carol.uuid.hex, "carol")
        assert body["is_active"] is True and body["destination_url"] == RECEIVER

        shown = self.as_user(self.carol).get(f"/api/hooks-web/{hook.uuid.hex}/").json()
        assert "secret" not in shown
        assert set(shown) == set(body) - {"secret"}

    def test_it_keeps_a_given_secret_and_changes_it_write_only(self) -> None:
        body = self.create(secret="s" * 32).json()  # type: ignore[attr-defined]
        assert body["secret"] == "s" * 32
        url = f"/api/hooks-web/{body['uuid']}/"
        changed = self.as_user(self.carol).patch(url, {"secret": "t" * 32, "is_active": False}, format="json")
        assert changed.status_code == 200 and "secret" not in changed.json()
        hook = WebHook.objects.get()
        assert (hook.secret, hook.is_active) == ("t" * 32, False)

    def test_it_lets_each_user_see_and_change_only_their_own_hooks_and_staff_all(self) -> None:
        mine = services.create_web_hook(user=self.carol, destination_url=RECEIVER, event_groups=["resources"])
        services.create_web_hook(user=self.dave, destination_url=RECEIVER, event_groups=["users"])
        url = f"/api/hooks-web/{mine.uuid.hex}/"

        assert [h["uuid"] for h in self.as_user(self.carol).get("/api/hooks-web/").json()] == [mine.uuid.hex]
        assert len(self.as_user(self.staff).get("/api/hooks-web/").json()) == 2
        dave = self.as_user(self.dave)
        assert dave.get(url).status_code == 404
        assert dave.patch(url, {"is_active": False}, format="json").status_code == 404
        assert dave.delete(url).status_code == 404
        assert dave.post(f"{url}test/").status_code == 404
        assert dave.get(f"{url}deliveries/").status_code == 404
        assert self.as_user(None).get("/api/hooks-web/").status_code == 401
        assert WebHook.objects.get(pk=mine.pk).is_active

        put = self.as_user(self.staff).put(
            url, {"destination_url": "http://127.0.0.1:10/x/", "event_types": ["role_granted"]}, format="json"
        )
        assert put.status_code == 200, put.json()
        mine.refresh_from_db()
        assert (mine.destination_url, mine.event_types) == ("http://127.0.0.1:10/x/", ["role_granted"])
        assert mine.event_groups == ["resources"]  # Waldur keeps the groups a PUT does not name
        assert self.as_user(self.carol).delete(url).status_code == 204
        assert not WebHook.objects.filter(pk=mine.pk).exists()

    def test_it_answers_bad_bodies_with_field_errors(self) -> None:
        cases = [
            ({"event_types": []}, "non_field_errors", "Please specify list of event_types or event_groups."),
            (
                {"event_types": ["nothing_happened"]},
                "event_types",
                '"nothing_happened" is not a valid choice.',
            ),
            ({"event_groups": ["nothing"]}, "event_groups", '"nothing" is not a valid choice.'),
            ({"content_type": "xml"}, "content_type", '"xml" is not a valid choice.'),
            (
                {"destination_url": "ftp://example.org/"},
                "destination_url",
                "Enter a valid http or https URL.",
            ),
            ({"destination_url": "not a url"}, "destination_url", "Enter a valid URL."),
            ({"secret": "short"}, "secret", "Ensure this field has at least 16 characters."),
        ]
        for body, field, message in cases:
            response = self.create(**body)
            assert response.status_code == 400, body  # type: ignore[attr-defined]
            assert response.json()[field] == [message], response.json()  # type: ignore[attr-defined]
        assert WebHook.objects.count() == 0

    @override_settings(WEBHOOK_ALLOW_PRIVATE=False)
    def test_it_refuses_destinations_in_private_ranges(self) -> None:
        for url in (
            "http://127.0.0.1:8000/",
            "http://localhost/",
            "http://10.1.2.3/",
            "http://192.168.0.1/",
            "http://169.254.169.254/latest/meta-data/",
            "http://[::1]/",
            "http://[fe80::1]/",
            "http://100.64.0.1/",
            "http://0.0.0.0/",
        ):
            response = self.create(destination_url=url)
            assert response.status_code == 400, url  # type: ignore[attr-defined]
            [message] = response.json()["destination_url"]  # type: ignore[attr-defined]
            assert "non-public address" in message, message
        hook = services.create_web_hook(
            user=self.carol, destination_url="http://93.184.215.14/", event_groups=["users"]
        )
        response = self.as_user(self.carol).patch(
            f"/api/hooks-web/{hook.uuid.hex}/", {"destination_url": "http://10.0.0.1/"}, format="json"
        )
        assert response.status_code == 400
        assert "destination_url" in response.json()

    def test_it_filters_as_waldur_does(self) -> None:
        json_hook = services.create_web_hook(
            user=self.carol, destination_url=RECEIVER, event_groups=["users"]
        )
        form_hook = services.create_web_hook(
            user=self.dave, destination_url=RECEIVER + "f/", event_groups=["users"], content_type="form"
        )
        services.update_web_hook(hook=form_hook, is_active=False)
        staff = self.as_user(self.staff)

        def uuids(query: str) -> set[str]:
            response = staff.get(f"/api/hooks-web/?{query}")
            assert response.status_code == 200, response.json()
            return {row["uuid"] for row in response.json()}

        assert uuids(f"author_uuid={self.carol.uuid.hex}") == {json_hook.uuid.hex}
        assert uuids("author_username=dave") == {form_hook.uuid.hex}
        assert uuids(f"author_email={self.dave.email}") == {form_hook.uuid.hex}
        assert uuids("is_active=false") == {form_hook.uuid.hex}
        assert uuids(f"destination_url={RECEIVER}") == {json_hook.uuid.hex}
        assert uuids("content_type=form") == uuids("content_type=2") == {form_hook.uuid.hex}
        assert uuids("query=caro") == {json_hook.uuid.hex}

    def test_it_lists_in_a_fixed_number_of_queries(self) -> None:
        def count() -> int:
            client = self.as_user(self.carol)
            client.get("/api/hooks-web/")
            with CaptureQueriesContext(connection) as queries:
                assert client.get("/api/hooks-web/?page_size=50").status_code == 200
                assert client.get("/api/hooks/?page_size=50").status_code == 200
                assert client.get("/api/hooks-email/?page_size=50").status_code == 200
            return len(queries)

        services.create_web_hook(user=self.carol, destination_url=RECEIVER, event_groups=["users"])
        services.create_email_hook(user=self.carol, email="c@example.org", event_groups=["users"])
        one = count()
        for n in range(5):
            services.create_web_hook(user=self.carol, destination_url=RECEIVER, event_groups=["users"])
            services.create_email_hook(user=self.carol, email=f"c{n}@example.org", event_groups=["users"])
        assert count() == one


class EmailHookApiTests(MarketplaceTestCase):
    def test_it_manages_email_hooks_like_waldur(self) -> None:
        carol = self.as_user(self.carol)
        response = carol.post(
            "/api/hooks-email/", {"email": "ops@example.org", "event_groups": ["resources"]}, format="json"
        )
        assert response.status_code == 201, response.json()
        body = response.json()
        assert body["hook_type"] == "email" and body["email"] == "ops@example.org"
        assert "marketplace_order_created" in body["event_types"]
        assert "secret" not in body
        url = f"/api/hooks-email/{body['uuid']}/"
        assert self.as_user(self.dave).get(url).status_code == 404
        assert carol.patch(url, {"email": "other@example.org"}, format="json").json()["email"] == (
            "other@example.org"
        )
        bad = carol.post("/api/hooks-email/", {"email": "x@example.org"}, format="json")
        assert bad.status_code == 400
        assert bad.json() == {"non_field_errors": ["Please specify list of event_types or event_groups."]}
        assert carol.delete(url).status_code == 204
        assert EmailHook.objects.count() == 0

    @override_settings(WEBHOOK_ALLOW_PRIVATE=True)
    def test_the_summary_lists_both_kinds(self) -> None:
        web = services.create_web_hook(user=self.carol, destination_url=RECEIVER, event_groups=["users"])
        mail = services.create_email_hook(user=self.carol, email="c@example.org", event_groups=["users"])
        services.create_email_hook(user=self.dave, email="d@example.org", event_groups=["users"])
        response = self.as_user(self.carol).get("/api/hooks/")
        assert response.status_code == 200
        assert response.headers["X-Result-Count"] == "2"
        assert {(row["uuid"], row["hook_type"]) for row in response.json()} == {
            (web.uuid.hex, "webhook"),
            (mail.uuid.hex, "email"),
        }
        assert self.as_user(self.staff).head("/api/hooks/").headers["X-Result-Count"] == "3"
