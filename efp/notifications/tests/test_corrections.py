"""A correction of a month's usage is told to the allocation's consumer side, with its reason."""

from __future__ import annotations

from decimal import Decimal

from django.core import mail

from efp.marketplace.services.corrections import correct_usage
from efp.notifications.models import Notification
from efp.notifications.tests.base import NotificationTestCase


class UsageCorrectedTests(NotificationTestCase):
    CONSUMERS = ["alice", "erin"]  # the owner and the project administrator; bob is a member

    def test_it_tells_the_consumer_side_the_reason_once(self) -> None:
        resource = self.allocation("climate")
        self.report(resource, cpu=763.45)
        self.deliver()
        mail.outbox.clear()
        usage = resource.usages.get(component__type="cpu")
        correct_usage(user=self.carol, usage=usage, amount=Decimal("12.50"), reason="A job was counted twice")
        self.deliver()
        self.deliver()  # a dispatch that runs again tells nobody twice
        assert self.mailed("climate: CPU usage of") == self.CONSUMERS
        message = next(m for m in mail.outbox if m.to == ["alice@example.org"])
        assert "from 763.45 to 12.5" in message.body
        assert "Reason: A job was counted twice" in message.body
        assert f"/my/resources/{resource.uuid.hex}/usage/" in message.body
        told = Notification.objects.filter(kind="usage_corrected")
        assert sorted(n.user.username for n in told) == self.CONSUMERS
        assert not told.filter(user=self.carol).exists()
