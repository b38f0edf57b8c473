"""Crossing 80 % and 100 % of a limit tells both sides once each (notifications/reactions.py), and the same
dispatch refreshes the resource's forecast (marketplace/services/forecasts.py): nothing new is wired for the
alerts of issue 16, this checks that the two dispatchers agree and that a dispatch run twice repeats nothing.
"""

from __future__ import annotations

from efp.events.models import Event
from efp.events.tasks import dispatch_event
from efp.marketplace.models import ResourceForecast
from efp.notifications.models import Notification
from efp.notifications.tests.base import NotificationTestCase

EVERYONE = ["alice", "carol", "erin", "oscar"]


class UsageAlertTests(NotificationTestCase):
    def usage_notices(self) -> dict[str, list[str]]:
        notices: dict[str, list[str]] = {}
        for key, username in Notification.objects.filter(kind="usage_threshold").values_list(
            "dedupe_key", "user__username"
        ):
            notices.setdefault(key.rsplit(":", 1)[-1], []).append(username)
        return {threshold: sorted(users) for threshold, users in notices.items()}

    def test_a_report_crossing_80_then_100_percent_notifies_once_each_and_flags_the_resource(self) -> None:
        resource = self.allocation("climate")  # storage limit 10 TB
        self.report(resource, storage=8)
        self.deliver()
        assert self.usage_notices() == {"80": EVERYONE}
        assert "over_limit" not in ResourceForecast.objects.get(resource=resource).flag_list

        self.report(resource, storage=11)
        self.deliver()
        assert self.usage_notices() == {"80": EVERYONE, "100": EVERYONE}
        assert ResourceForecast.objects.get(resource=resource).flag_list == ["over_limit"]

        last = Event.objects.filter(event_type="marketplace_component_usage_reported").latest("pk")
        dispatch_event.call(last.pk)  # a dispatch that runs again after a crash
        assert self.usage_notices() == {"80": EVERYONE, "100": EVERYONE}
        assert Notification.objects.filter(kind="usage_threshold").count() == 8
        assert ResourceForecast.objects.get(resource=resource).flag_list == ["over_limit"]

    def test_a_report_below_80_percent_notifies_nobody(self) -> None:
        resource = self.allocation("calm")
        self.report(resource, storage=7.9)
        self.deliver()
        assert self.usage_notices() == {}
        assert "over_limit" not in ResourceForecast.objects.get(resource=resource).flag_list
