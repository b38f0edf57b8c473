"""What an event makes us tell, and whom: the dispatcher `react` (registered with `on_event` in
`apps.py`) and the notifications the periodic jobs share with it. Every notification is keyed
(`dedupe_key`), so a dispatch that runs twice tells nobody twice."""

from __future__ import annotations

import datetime
from decimal import Decimal
from typing import Any

from django.urls import reverse

from efp.accounts.models import User
from efp.events.models import Event
from efp.marketplace import metering
from efp.marketplace.billing_months import current_month, month_key
from efp.marketplace.models import Order, Resource
from efp.marketplace.states import OrderState
from efp.notifications import recipients
from efp.notifications.models import Group, Notification
from efp.notifications.services import notify

ORDER_EVENTS = "marketplace_order_"
ENDED_ON = "ended_on"  # in the attributes of the end-date job's Terminate orders (services/renewals.py)
THRESHOLDS = (80, 100)  # percent of a limit (the 100 % notification supersedes the 80 % one)


def acts_on(event_type: str, context: dict[str, Any]) -> bool:
    """The events `react` may tell of, as `efp.events.recorder.on_event` asks (a user's usage row is not
    one: the month's total has its own event)."""
    if event_type == "marketplace_component_usage_reported":
        return not context.get("username")
    return event_type.startswith(ORDER_EVENTS) or event_type in {
        "marketplace_component_usage_corrected",
        "webhook_deactivated",
    }


def react(event: Event) -> None:
    """The dispatcher: reads what the event names as it is now, and tells whom it concerns."""
    if event.event_type.startswith(ORDER_EVENTS) and event.order_id is not None:
        order = _order(event.order_id)
        if order is None:
            return
        tell_order_waits(order, event=event)
        if event.event_type == "marketplace_order_created" and ENDED_ON in order.attributes:
            tell_terminated_after_end(order, event)
        if event.event_type != "marketplace_order_created":
            tell_order_changed(order, event)
    elif event.event_type == "marketplace_component_usage_reported":
        tell_usage_thresholds(event)
    elif event.event_type == "marketplace_component_usage_corrected":
        tell_usage_corrected(event)
        tell_usage_thresholds(event)
    elif event.event_type == "webhook_deactivated":
        tell_hook_deactivated(event)


def _order(order_id: int) -> Order | None:
    related = ("project__customer", "offering__customer", "created_by", "resource")
    return Order.objects.select_related(*related).filter(pk=order_id).first()


def order_url(order: Order, *, provider: bool) -> str:
    return reverse("web:order" if provider else "web:my-order", args=[order.uuid.hex])


def resource_url(resource: Resource, *, provider: bool) -> str:
    return reverse("web:resource-usage" if provider else "web:my-resource-usage", args=[resource.uuid.hex])


def _order_details(order: Order) -> dict[str, object]:
    return {
        "order_name": order.resource_name or order.uuid.hex[:12],
        "order_type": order.type,
        "offering_name": order.offering.name,
        "project_name": order.project.name,
        "organisation_name": order.project.customer.name,
        "creator": (order.created_by.get_full_name() or order.created_by.username)
        if order.created_by
        else "",
    }


def order_waits_key(order_uuid: str, state: str, *, reminder: bool) -> str:
    """The `dedupe_key` of "an order waits for you" (and of its reminder): once per order and state."""
    return f"order-{'reminder' if reminder else 'waits'}:{order_uuid}:{state}"


def tell_order_waits(
    order: Order, *, event: Event | None = None, reminder: bool = False
) -> list[Notification]:
    """An order waits for a decision: whoever may take it (not the person who just acted), once per order
    and state; the reminder once more after it has waited `jobs.REMINDER_AFTER`."""
    provider = order.state == OrderState.PENDING_PROVIDER
    actor_id = event.actor_id if event is not None else None
    deciders = [user for user in recipients.order_deciders(order) if user.pk != actor_id]
    details = _order_details(order)
    side = "the provider" if provider else "your organisation"
    what = f"{details['order_type']} order for {details['order_name']}"
    subject = f"{'Reminder: ' if reminder else ''}{what} waits for your approval"
    text = (
        f"{details['creator'] or 'Someone'} ordered {details['offering_name']} for project "
        f"{details['project_name']} ({details['organisation_name']}). It waits for approval by {side}."
    )
    return notify(
        deciders,
        kind="order_reminder" if reminder else "order_waiting",
        group=Group.ORDERS,
        subject=subject,
        text=text,
        url=order_url(order, provider=provider),
        event=event,
        dedupe_key=order_waits_key(order.uuid.hex, order.state, reminder=reminder),
        details=details,
    )


def tell_order_changed(order: Order, event: Event) -> list[Notification]:
    """The order's creator hears of every change of their order they did not make themselves."""
    creator = order.created_by
    if creator is None or creator.pk == event.actor_id:
        return []
    state = str(event.context.get("order_state") or order.state)
    label = OrderState(state).label if state in OrderState.values else state
    details = {**_order_details(order), "state": label, "message": event.message}
    return notify(
        [creator],
        kind="order_changed",
        group=Group.ORDERS,
        subject=f"Your {details['order_type']} order for {details['order_name']} is now {label}",
        text=event.message,
        url=order_url(order, provider=False),
        event=event,
        dedupe_key=f"order-changed:{event.uuid.hex}",
        details=details,
    )


def tell_terminated_after_end(order: Order, event: Event) -> list[Notification]:
    """The end-date job terminates an allocation: both sides hear it, once per order."""
    resource = order.resource
    if resource is None:
        return []
    what = f"{resource.name} ({order.offering.name}, project {order.project.name})"
    subject = f"{resource.name} is being terminated"
    text = (
        f"The allocation {what} ended on {order.attributes[ENDED_ON]} and was not extended, "
        "so it is being terminated."
    )
    told: list[Notification] = []
    for provider, users in recipients.allocation_sides(resource):
        told += notify(
            users,
            kind="allocation_terminated",
            group=Group.END_DATES,
            subject=subject,
            text=text,
            url=resource_url(resource, provider=provider),
            event=event,
            dedupe_key=f"end-date-terminated:{order.uuid.hex}",
            details={"resource_name": resource.name, "ended_on": order.attributes[ENDED_ON]},
        )
    return told


def _billing_period(value: object) -> datetime.date:
    try:
        return datetime.date.fromisoformat(str(value)[:10]).replace(day=1)
    except ValueError:
        return current_month()


def tell_usage_thresholds(event: Event) -> list[Notification]:
    """Usage reached 80 % or 100 % of a limit: both sides, once per resource, component and month.
    Usage against limits is read from `marketplace.metering`, as every page shows it."""
    component = str(event.context.get("component_type") or "")
    if event.resource_id is None or not component or event.context.get("username"):
        return []  # one user's row: the month's total has its own event
    related = ("project__customer", "offering")
    found = Resource.objects.select_related(*related).filter(pk=event.resource_id).first()
    if found is None:
        return []
    offered = found.offering.components.filter(type=component).first()
    if offered is None or not metering.may_be_limited(offered):
        return []  # no limit to reach (most reports): nothing summarised
    period = _billing_period(event.context.get("billing_period"))
    statuses = metering.summarise([found], today=period, with_last_report=False).get(found.pk, [])
    status = next((s for s in statuses if s.type == component), None)
    if status is None or status.percent is None:
        return []
    crossed = [threshold for threshold in THRESHOLDS if status.percent >= threshold]
    if not crossed:
        return []

    def key(threshold: int) -> str:
        return f"usage:{found.uuid.hex}:{component}:{month_key(period)}:{threshold}"

    threshold = crossed[-1]
    if threshold < THRESHOLDS[-1] and Notification.objects.filter(dedupe_key=key(THRESHOLDS[-1])).exists():
        return []  # already told it passed 100 % this month
    details = {
        "resource_name": found.name,
        "component_name": status.name,
        "used": amount(status.used),
        "limit": amount(status.limit),
        "unit": status.unit,
        "percent": status.percent,
        "threshold": threshold,
        "period": status.used_label,
        "project_name": found.project.name,
        "offering_name": found.offering.name,
    }
    subject = f"{found.name}: {status.name} at {status.percent} % of its limit"
    text = (
        f"{found.name} ({found.offering.name}, project {found.project.name}) has used {details['used']} of "
        f"{details['limit']} {status.unit} of {status.name} {status.used_label}: {status.percent} %, "
        f"{'over' if threshold >= 100 else 'past'} {threshold} % of the limit."
    )
    told = []
    for provider, users in recipients.allocation_sides(found):
        told += notify(
            users,
            kind="usage_threshold",
            group=Group.USAGE,
            subject=subject,
            text=text,
            url=resource_url(found, provider=provider),
            event=event,
            dedupe_key=key(threshold),
            details=details,
        )
    return told


def tell_usage_corrected(event: Event) -> list[Notification]:
    """A month's usage was corrected: the allocation's consumer side hears of it with the reason (not the
    person who corrected it), once per correction."""
    if event.resource_id is None:
        return []
    related = ("project__customer", "offering")
    found = Resource.objects.select_related(*related).filter(pk=event.resource_id).first()
    if found is None:
        return []
    context = event.context
    month = _billing_period(context.get("billing_period"))
    kind = str(context.get("component_type") or "")
    component = found.offering.components.filter(type=kind).values_list("name", flat=True).first()
    details = {
        "resource_name": found.name,
        "component_type": component or kind,
        "month": f"{month:%B %Y}",
        "old_usage": amount(Decimal(str(context.get("old_usage") or 0))),
        "usage": amount(Decimal(str(context.get("usage") or 0))),
        "reason": str(context.get("reason") or ""),
        "project_name": found.project.name,
        "offering_name": found.offering.name,
    }
    users = [user for user in recipients.allocation_consumers(found) if user.pk != event.actor_id]
    return notify(
        users,
        kind="usage_corrected",
        group=Group.USAGE,
        subject=f"{found.name}: {details['component_type']} usage of {details['month']} was corrected",
        text=(
            f"{found.offering.name} corrected the {details['component_type']} usage of {found.name} "
            f"(project {found.project.name}) for {details['month']} from {details['old_usage']} to "
            f"{details['usage']}. Reason: {details['reason']}"
        ),
        url=resource_url(found, provider=False),
        event=event,
        dedupe_key=f"usage-corrected:{event.uuid.hex}",
        details=details,
    )


def amount(value: Decimal | None) -> str:
    """8.00 → "8", 8.50 → "8.5": the same number on every database."""
    if value is None:
        return ""
    return f"{Decimal(value).normalize():f}"


def tell_hook_deactivated(event: Event) -> list[Notification]:
    """A web hook failing for days was switched off: its author (the event's user) hears of it."""
    if event.user_id is None:
        return []
    author = User.objects.filter(pk=event.user_id, is_active=True).first()
    if author is None:
        return []
    destination = str(event.context.get("destination_url") or "")
    return notify(
        [author],
        kind="hook_deactivated",
        group=Group.HOOKS,
        subject=f"Your web hook{' to ' + destination if destination else ''} was switched off",
        text=event.message,
        url="",
        event=event,
        dedupe_key=f"hook-deactivated:{event.uuid.hex}",
        details={"destination_url": destination},
    )
