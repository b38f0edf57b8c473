"""Waldur's SDK against a live server: carol creates, lists, counts, changes and deletes her web and e-mail
hooks, and lists them together; every answer is parsed by the SDK's models."""

from __future__ import annotations

import json

from django.test import LiveServerTestCase, override_settings
from waldur_api_client.api.hooks import hooks_count, hooks_list
from waldur_api_client.api.hooks_email import (
    hooks_email_count,
    hooks_email_create,
    hooks_email_destroy,
    hooks_email_list,
    hooks_email_partial_update,
    hooks_email_retrieve,
    hooks_email_update,
)
from waldur_api_client.api.hooks_web import (
    hooks_web_count,
    hooks_web_create,
    hooks_web_destroy,
    hooks_web_list,
    hooks_web_partial_update,
    hooks_web_retrieve,
    hooks_web_update,
)
from waldur_api_client.errors import UnexpectedStatus
from waldur_api_client.models import (
    EmailHookRequest,
    EventGroupsEnum,
    EventTypesEnum,
    PatchedEmailHookRequest,
    PatchedWebHookRequest,
    WebHookContentTypeEnum,
    WebHookContentTypeEnum1,
    WebHookRequest,
)

from efp.hooks.models import EmailHook, WebHook
from efp.marketplace.tests.factories import make_user
from efp.marketplace.tests.live_world import sdk_client


@override_settings(WEBHOOK_ALLOW_PRIVATE=True)
class SdkHookTests(LiveServerTestCase):
    def setUp(self) -> None:
        self.carol = make_user("carol")
        self.dave = make_user("dave")
        self.client = sdk_client(self.live_server_url, self.carol)

    def test_it_manages_a_web_hook(self) -> None:
        created = hooks_web_create.sync(
            client=self.client,
            body=WebHookRequest(
                destination_url="http://127.0.0.1:9/hook/",
                event_types=[EventTypesEnum.MARKETPLACE_ORDER_CREATED],
                event_groups=[EventGroupsEnum.USERS],
                content_type=WebHookContentTypeEnum.JSON,
            ),
        )
        hook = WebHook.objects.get()
        assert created.uuid == hook.uuid and created.hook_type == "webhook"
        assert created.additional_properties["secret"] == hook.secret  # shown once, beyond Waldur
        assert EventTypesEnum.ROLE_GRANTED in created.event_types  # type: ignore[operator]
        assert created.author_username == "carol"

        [listed] = hooks_web_list.sync(client=self.client, content_type=WebHookContentTypeEnum1.VALUE_1)
        assert listed.uuid == hook.uuid and "secret" not in listed.additional_properties
        assert hooks_web_list.sync(client=self.client, is_active=False) == []
        assert hooks_web_count.sync(client=self.client) == 1

        changed = hooks_web_partial_update.sync(
            hook.uuid,
            client=self.client,
            body=PatchedWebHookRequest(is_active=False, content_type=WebHookContentTypeEnum.FORM),
        )
        assert changed.is_active is False and changed.content_type == WebHookContentTypeEnum.FORM
        replaced = hooks_web_update.sync(
            hook.uuid,
            client=self.client,
            body=WebHookRequest(
                destination_url="http://127.0.0.1:9/other/", event_types=[EventTypesEnum.ROLE_REVOKED]
            ),
        )
        assert replaced.destination_url == "http://127.0.0.1:9/other/"
        assert replaced.event_types == [EventTypesEnum.ROLE_REVOKED]
        assert hooks_web_retrieve.sync(hook.uuid, client=self.client).destination_url == (
            "http://127.0.0.1:9/other/"
        )
        with self.assertRaises(UnexpectedStatus):  # dave does not see carol's hook
            hooks_web_retrieve.sync(hook.uuid, client=sdk_client(self.live_server_url, self.dave))

        hooks_web_destroy.sync_detailed(hook.uuid, client=self.client)
        assert not WebHook.objects.exists()

    def test_it_manages_an_email_hook_and_lists_both_kinds(self) -> None:
        created = hooks_email_create.sync(
            client=self.client,
            body=EmailHookRequest(email="ops@example.org", event_groups=[EventGroupsEnum.PROVIDERS]),
        )
        assert created.hook_type == "email" and created.email == "ops@example.org"
        hooks_web_create.sync(
            client=self.client,
            body=WebHookRequest(
                destination_url="http://127.0.0.1:9/hook/", event_types=[EventTypesEnum.ROLE_GRANTED]
            ),
        )
        [listed] = hooks_email_list.sync(client=self.client, email="ops@example.org")
        assert listed.uuid == created.uuid
        assert hooks_email_count.sync(client=self.client) == 1
        assert hooks_email_retrieve.sync(created.uuid, client=self.client).email == "ops@example.org"
        patched = hooks_email_partial_update.sync(
            created.uuid, client=self.client, body=PatchedEmailHookRequest(email="noc@example.org")
        )
        assert patched.email == "noc@example.org"
        put = hooks_email_update.sync(
            created.uuid,
            client=self.client,
            body=EmailHookRequest(email="ops@example.org", event_types=[EventTypesEnum.ROLE_GRANTED]),
        )
        assert put.event_types == [EventTypesEnum.ROLE_GRANTED]

        both = hooks_list.sync_detailed(client=self.client)  # the SDK leaves this answer unparsed
        assert both.status_code == 200
        assert sorted(row["hook_type"] for row in json.loads(both.content)) == ["email", "webhook"]
        assert hooks_count.sync(client=self.client) == 2
        hooks_email_destroy.sync_detailed(created.uuid, client=self.client)
        assert not EmailHook.objects.exists()
