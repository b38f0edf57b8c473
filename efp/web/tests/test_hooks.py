"""The provider's Web hooks page: carol adds a hook and sees its secret once, sends a test, sees the
delivery with its attempts, sends it again, deactivates and deletes it; quinn (another provider) cannot
open carol's hook; consumers never see the page."""

from __future__ import annotations

import re

from django.test import override_settings

from efp.events.tests.running import run_tasks
from efp.hooks import services
from efp.hooks.models import WebHook, WebhookDelivery
from efp.hooks.tests.receiver import Receiver
from efp.web.tests.base import WebTestCase


@override_settings(WEBHOOK_ALLOW_PRIVATE=True)
class WebHookPageTests(WebTestCase):
    def setUp(self) -> None:
        self.receiver = Receiver([500])
        self.addCleanup(self.receiver.stop)

    def test_the_workspace_menu_links_the_page_and_consumers_are_refused(self) -> None:
        html = self.login(self.carol).get("/provider/").content.decode()
        assert 'href="/provider/hooks/"' in html and ">Web hooks</a>" in html
        for user in (self.alice, self.bob, self.dave):
            assert self.login(user).get("/provider/hooks/").status_code == 403, user

    def test_carol_adds_a_hook_and_sees_the_secret_once(self) -> None:
        client = self.login(self.carol)
        form = client.get("/provider/hooks/new/").content.decode()
        assert 'name="destination_url"' in form and 'value="resources"' in form
        response = client.post(
            "/provider/hooks/new/",
            {"destination_url": self.receiver.url, "event_groups": ["providers"], "content_type": "form"},
        )
        assert response.status_code == 201
        hook = WebHook.objects.get()
        assert (hook.user, hook.content_type, hook.event_groups) == (self.carol, "form", ["providers"])
        assert hook.secret in response.content.decode()
        for page in ("/provider/hooks/", f"/provider/hooks/{hook.uuid.hex}/"):
            html = client.get(page).content.decode()
            assert hook.destination_url in html and hook.secret not in html

    def test_bad_input_is_shown_on_the_form(self) -> None:
        client = self.login(self.carol)
        none = client.post(
            "/provider/hooks/new/", {"destination_url": self.receiver.url, "content_type": "json"}
        )
        assert none.status_code == 400
        assert "Please specify list of event_types or event_groups." in none.content.decode()
        with override_settings(WEBHOOK_ALLOW_PRIVATE=False):
            private = client.post(
                "/provider/hooks/new/",
                {"destination_url": "http://10.0.0.1/", "event_groups": ["users"], "content_type": "json"},
            )
        assert private.status_code == 400 and "non-public address" in private.content.decode()
        assert WebHook.objects.count() == 0

    def test_carol_tests_her_hook_and_sends_a_delivery_again(self) -> None:
        hook = services.create_web_hook(
            user=self.carol, destination_url=self.receiver.url, event_groups=["users"]
        )
        client = self.login(self.carol)
        page = f"/provider/hooks/{hook.uuid.hex}/"
        sent = client.post(f"{page}test/", follow=True)
        assert "A test event is on its way" in sent.content.decode()
        run_tasks()
        delivery = WebhookDelivery.objects.get()
        html = client.get(page).content.decode()
        assert "webhook_test" in html and str(delivery.uuid) in html
        assert "HTTP 500" in html and "Pending" in html  # the receiver failed the first attempt

        again = client.post(f"{page}deliveries/{delivery.uuid.hex}/resend/", follow=True)
        assert "sent again as a new delivery" in again.content.decode()
        run_tasks()
        resent = WebhookDelivery.objects.get(resend_of=delivery)
        assert resent.state == "delivered"
        assert len(self.receiver.received) == 2
        assert self.receiver.received[1].headers["X-EFP-Delivery"] == str(resent.uuid)
        html = client.get(page).content.decode()
        assert "Delivered" in html and "HTTP 200" in html and "sent again" in html

    def test_carol_deactivates_and_deletes_her_hook(self) -> None:
        hook = services.create_web_hook(
            user=self.carol, destination_url=self.receiver.url, event_groups=["users"]
        )
        client = self.login(self.carol)
        page = f"/provider/hooks/{hook.uuid.hex}/"
        client.post(f"{page}active/", {"active": "0"})
        hook.refresh_from_db()
        assert not hook.is_active
        refused = client.post(f"{page}test/", follow=True).content.decode()
        assert "not active" in refused
        client.post(f"{page}active/", {"active": "1"})
        hook.refresh_from_db()
        assert hook.is_active
        assert "Delete the web hook" in client.get(f"{page}delete/").content.decode()
        assert client.post(f"{page}delete/").status_code == 302
        assert not WebHook.objects.exists()

    def test_another_provider_cannot_open_or_act_on_carols_hook(self) -> None:
        hook = services.create_web_hook(
            user=self.carol, destination_url=self.receiver.url, event_groups=["users"]
        )
        delivery = services.send_test(hook=hook, user=self.carol)
        quinn = self.login(self.quinn)
        page = f"/provider/hooks/{hook.uuid.hex}/"
        assert hook.destination_url not in quinn.get("/provider/hooks/").content.decode()
        assert quinn.get(page).status_code == 404
        for action in ("test/", "delete/", f"deliveries/{delivery.uuid.hex}/resend/"):
            assert quinn.post(f"{page}{action}").status_code == 404, action
        assert quinn.post(f"{page}active/", {"active": "0"}).status_code == 404
        assert WebHook.objects.get().is_active
        assert self.login(self.staff).get(page).status_code == 200

    def test_the_page_lists_hooks_in_a_fixed_number_of_queries(self) -> None:
        from django.db import connection
        from django.test.utils import CaptureQueriesContext

        client = self.login(self.carol)

        def count(path: str) -> int:
            client.get(path)
            with CaptureQueriesContext(connection) as queries:
                assert client.get(path).status_code == 200
            return len(queries)

        hook = services.create_web_hook(
            user=self.carol, destination_url=self.receiver.url, event_groups=["users"]
        )
        services.send_test(hook=hook, user=self.carol)
        run_tasks()
        page = f"/provider/hooks/{hook.uuid.hex}/"
        one_list, one_page = count("/provider/hooks/"), count(page)
        for _ in range(4):
            services.create_web_hook(
                user=self.carol, destination_url=self.receiver.url, event_groups=["users"]
            )
            services.send_test(hook=hook, user=self.carol)
        run_tasks()
        assert (count("/provider/hooks/"), count(page)) == (one_list, one_page)
        assert len(re.findall("Send again", client.get(page).content.decode())) == 5

    def test_carol_sorts_her_hooks_by_destination(self) -> None:
        for path in ("b", "a", "c"):
            services.create_web_hook(
                user=self.carol, destination_url=f"{self.receiver.url}{path}", event_groups=["users"]
            )
        client = self.login(self.carol)
        destinations = re.compile(r'<a href="/provider/hooks/[0-9a-f]+/">[^<]*?(\w)</a>')
        assert destinations.findall(client.get("/provider/hooks/").content.decode()) == ["c", "a", "b"]
        html = client.get("/provider/hooks/?o=destination").content.decode()
        assert destinations.findall(html) == ["a", "b", "c"]
        assert 'aria-sort="ascending"><a class="sort" href="?o=-destination">Destination' in html
