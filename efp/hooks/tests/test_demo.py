"""The demo shows a provider's web hook whose receiver is down, so its retries can be seen."""

from __future__ import annotations

from django.test import TestCase, override_settings

from efp.hooks.demo import DEMO_DESTINATION
from efp.hooks.models import WebHook
from efp.marketplace import demo


class DemoHookTests(TestCase):
    @override_settings(WEBHOOK_ALLOW_PRIVATE=True)
    def test_the_provider_has_one_demo_hook_however_often_the_demo_runs(self) -> None:
        demo.build()
        demo.build()
        [hook] = WebHook.objects.filter(destination_url=DEMO_DESTINATION)
        assert hook.user.username == "provider" and hook.is_active
        assert "marketplace_order_created" in hook.event_types

    @override_settings(WEBHOOK_ALLOW_PRIVATE=False)
    def test_where_private_destinations_are_refused_the_demo_goes_on_without_it(self) -> None:
        demo.build()
        assert not WebHook.objects.exists()
