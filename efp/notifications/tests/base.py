"""The marketplace personas, and events written as the services write them (docs: BRIEF conventions).

alice owns consumer organisation A; bob is a member and erin an administrator of project A1; carol owns
provider P (offering O, SLURM, and B, Basic); oscar manages offering O; dave is an outsider; staff.

The services write these events themselves once the events work is merged; until then (and whatever
type a service chooses) the helpers write one only when the action wrote none, with the same scopes
and context keys, so that a test reads the same before and after.
"""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from typing import Any

from django.core import mail
from django.db import transaction
from django.db.models import Max

from efp.accounts.models import User
from efp.events.models import Event
from efp.events.recorder import Scopes, record
from efp.events.tests.running import run_tasks
from efp.marketplace.models import Order, Resource, UsageRevision
from efp.marketplace.services import usage as usage_services
from efp.marketplace.tests.base import MarketplaceTestCase
from efp.marketplace.tests.factories import make_order, make_resource


def _actor(user: User | None) -> dict[str, str]:
    if user is None:
        return {}
    return {
        "user_uuid": user.uuid.hex,
        "user_username": user.username,
        "user_full_name": user.get_full_name(),
    }


def order_context(order: Order, actor: User | None) -> dict[str, Any]:
    project, offering = order.project, order.offering
    return {
        "customer_uuid": project.customer.uuid.hex,
        "customer_name": project.customer.name,
        "project_uuid": project.uuid.hex,
        "project_name": project.name,
        "offering_uuid": offering.uuid.hex,
        "offering_name": offering.name,
        "provider_uuid": offering.customer.uuid.hex,
        "provider_name": offering.customer.name,
        "resource_uuid": order.resource.uuid.hex if order.resource else "",
        "resource_name": order.resource_name,
        "order_uuid": order.uuid.hex,
        "order_type": order.type,
        "order_state": order.state,
        **_actor(actor),
    }


def last_event() -> int:
    return Event.objects.aggregate(last=Max("pk"))["last"] or 0


class NotificationTestCase(MarketplaceTestCase):
    def order_happened(self, order: Order, event_type: str, *, actor: User | None, since: int) -> None:
        """The order event the service writes, unless it wrote one since `since`."""
        order.refresh_from_db()
        if Event.objects.filter(pk__gt=since, order_id=order.pk).exists():
            return
        with transaction.atomic():
            record(
                event_type,
                f"Marketplace order {order.uuid.hex}: {event_type.rsplit('_', 1)[-1]}.",
                scopes=Scopes(
                    customer_id=order.project.customer_id,
                    project_id=order.project_id,
                    offering_id=order.offering_id,
                    resource_id=order.resource_id,
                    order_id=order.pk,
                ),
                context=order_context(order, actor),
                actor=actor,
            )

    def place_order(self, user: User, *, name: str = "alloc", offering: Any = None) -> Order:
        before = last_event()
        order = make_order(user, self.project_a1, offering or self.offering, name=name)
        self.order_happened(order, "marketplace_order_created", actor=user, since=before)
        return order

    def decide(
        self, verb: Callable[..., Any], order: Order, user: User, event_type: str, **extra: Any
    ) -> Order:
        before = last_event()
        verb(order=order, user=user, **extra)
        self.order_happened(order, event_type, actor=user, since=before)
        return order

    def allocation(self, name: str = "alloc") -> Resource:
        """An OK resource of offering O in project A1 (storage limit 10 TB), its events delivered."""
        resource = make_resource(self.alice, self.carol, self.project_a1, self.offering, name=name)
        self.deliver()
        mail.outbox.clear()
        return resource

    def report(self, resource: Resource, user: User | None = None, **amounts: Any) -> None:
        """Usage of this month, and its `marketplace_component_usage_reported` events."""
        user = user or self.staff
        before = last_event()
        usages = usage_services.set_usage(
            user=user,
            resource=resource,
            usages=[usage_services.UsageItem(type=t, amount=Decimal(str(a))) for t, a in amounts.items()],
            source=UsageRevision.Source.API,
        )
        resource.refresh_from_db()
        for usage in usages:
            component = usage.component.type
            written = Event.objects.filter(
                pk__gt=before,
                event_type="marketplace_component_usage_reported",
                resource_id=resource.pk,
                context__component_type=component,
            )
            if written.exists():
                continue
            with transaction.atomic():
                record(
                    "marketplace_component_usage_reported",
                    f"Usage of {component} of {resource.name} reported: {usage.usage}.",
                    scopes=Scopes(
                        customer_id=resource.project.customer_id,
                        project_id=resource.project_id,
                        offering_id=resource.offering_id,
                        resource_id=resource.pk,
                    ),
                    context={
                        "resource_uuid": resource.uuid.hex,
                        "resource_name": resource.name,
                        "component_type": component,
                        "billing_period": usage.billing_period.isoformat(),
                        "usage": str(usage.usage),
                        "old_usage": "",
                        **_actor(user),
                    },
                    actor=user,
                )

    def deliver(self) -> list[mail.EmailMessage]:
        """Runs the queued tasks (dispatch, e-mail) as the worker would; returns the outbox."""
        run_tasks()
        return list(mail.outbox)

    @staticmethod
    def mailed(subject_part: str = "") -> list[str]:
        """Usernames (from the address) that got an e-mail whose subject contains `subject_part`, sorted."""
        return sorted(
            address.split("@")[0]
            for message in mail.outbox
            if subject_part in message.subject
            for address in message.to
        )
