"""The notifications' periodic jobs (`efp worker` runs them; tests call them under `time_machine`).
Each is idempotent: whatever it tells is keyed, so a second run in the same slot tells nobody again."""

from __future__ import annotations

import datetime
from collections import defaultdict
from collections.abc import Iterator
from typing import Any

from django.conf import settings
from django.db.models import OuterRef, Q, Subquery
from django.db.models.functions import Coalesce
from django.urls import reverse
from django.utils import timezone

from efp.accounts.models import User
from efp.events.schedule import periodic
from efp.marketplace import coverage
from efp.marketplace.billing_months import add_months, current_month, month_key
from efp.marketplace.models import Offering, Order, OrderEvent, Resource
from efp.marketplace.states import OrderState, ResourceState
from efp.notifications import recipients, services
from efp.notifications.models import Group, Notification
from efp.notifications.reactions import order_waits_key, resource_url, tell_order_waits
from efp.structure.models import CustomerRole, ProjectRole, RoleGrant

REMINDER_AFTER = datetime.timedelta(days=3)
REMINDER_PAGE = 500  # orders per page of `due_reminders`
WAITING = (OrderState.PENDING_CONSUMER, OrderState.PENDING_PROVIDER)
ENDING_DAYS = (1, 7, 30)  # "ends in" notices: the smallest that is not less than the days left
ENDED_LOOKBACK = datetime.timedelta(days=7)  # an allocation that ended longer ago is not announced
ROLE_NOTICE = datetime.timedelta(days=7)
USAGE_DUE_DAY = 3  # last month's usage is due by the 3rd
EXTEND = "Ask an owner to extend it if you still need it."
RESEND_AFTER = datetime.timedelta(
    minutes=2
)  # a pending e-mail older than this lost its send (mail down, crash)
RESEND_WITHIN = datetime.timedelta(days=3)  # older ones are given up: the bell still shows them


@periodic("notifications.resend_pending_email", cron="*/5 * * * *")
def resend_pending_email() -> dict[str, Any]:
    """Queues again the e-mails still pending: their send failed (the mail server refused or was down,
    and the task failed with the row left pending) or their worker died mid-send. The send task claims
    the row, so a repeat sends nothing twice."""
    from efp.notifications.tasks import send_notification_email

    now = timezone.now()
    pending = Notification.objects.filter(
        email_state=Notification.EmailState.PENDING,
        created__lte=now - RESEND_AFTER,
        created__gte=now - RESEND_WITHIN,
    ).values_list("pk", flat=True)
    ids = list(pending[:1000])
    for pk in ids:
        send_notification_email.enqueue(pk)
    return {"enqueued": len(ids)}


@periodic("notifications.order_reminders", cron="0 * * * *")
def order_reminders() -> dict[str, Any]:
    """Orders that have waited 3 days for a decision: their deciders are reminded, once per state.
    Only the orders due and not yet reminded in their state are read as orders (`due_reminders`)."""
    told = 0
    for page in due_reminders(timezone.now() - REMINDER_AFTER):
        orders = Order.objects.filter(pk__in=list(page)).select_related(
            "project__customer", "offering__customer", "created_by", "resource"
        )
        for order in orders.order_by("pk"):
            if order.state == page[order.pk]:  # not decided since the page was read
                told += len(tell_order_waits(order, reminder=True))
    return {"notified": told}


def due_reminders(cutoff: datetime.datetime) -> Iterator[dict[int, str]]:
    """Pages (order id → state) of the orders waiting for a decision in a state entered at or before
    `cutoff` (its last `OrderEvent` into that state, else the order's creation) whose reminder for that
    state nobody has had yet. Values only, `REMINDER_PAGE` orders at a time."""
    entered = OrderEvent.objects.filter(order_id=OuterRef("pk"), new_state=OuterRef("state"))
    due = Order.objects.annotate(
        entered=Coalesce(Subquery(entered.order_by("-created").values("created")[:1]), "created")
    ).filter(state__in=WAITING, entered__lte=cutoff)
    waiting = Order.objects.filter(state__in=WAITING).order_by("pk").values_list("pk", flat=True)
    last = 0
    # The page's keys first, then the entry of those only: a filter on the subquery in the paging query
    # made PostgreSQL evaluate it for every waiting order after the last one, on every page.
    while ids := list(waiting.filter(pk__gt=last)[:REMINDER_PAGE]):
        last = ids[-1]
        page = due.filter(pk__in=ids).values_list("pk", "uuid", "state")
        keys = {order_waits_key(key.hex, state, reminder=True): (pk, state) for pk, key, state in page}
        reminded = set(
            Notification.objects.filter(dedupe_key__in=list(keys)).values_list("dedupe_key", flat=True)
        )
        if todo := dict(order for key, order in keys.items() if key not in reminded):
            yield todo


@periodic("notifications.daily_digest", cron="0 7 * * *")
def daily_digest() -> dict[str, Any]:
    """One e-mail per person with what they chose to receive as a daily digest."""
    people = listed = 0
    for user in services.users_with_undigested():
        count = services.send_daily_digest(user=user)
        people += bool(count)
        listed += count
    return {"people": people, "notifications": listed}


def _ending_notice(days_left: int) -> str | None:
    if days_left <= 0:
        return "ended"
    return next((f"in-{days}" for days in ENDING_DAYS if days_left <= days), None)


@periodic("notifications.end_dates", cron="0 6 * * *")
def end_dates() -> dict[str, Any]:
    """Allocations ending in 30, 7 and 1 days, and those that have ended: both sides, once each."""
    today = timezone.localdate()
    horizon = today + datetime.timedelta(days=max(ENDING_DAYS))
    resources = (
        Resource.objects.filter(end_date__isnull=False, end_date__lte=horizon)
        .filter(end_date__gt=today - ENDED_LOOKBACK)
        .exclude(Q(state=ResourceState.TERMINATED) & Q(end_date__gt=today))
        .select_related("project__customer", "offering")
        .order_by("end_date", "pk")
    )
    told = 0
    for resource in resources:
        assert resource.end_date is not None
        days_left = (resource.end_date - today).days
        notice = _ending_notice(days_left)
        if notice is None:
            continue
        ended = notice == "ended"
        when = f"on {resource.end_date:%-d %B %Y}"
        what = f"{resource.name} ({resource.offering.name}, project {resource.project.name})"
        if ended:
            subject = f"{resource.name} has ended"
            grace = resource.end_date + datetime.timedelta(days=settings.EFP_END_DATE_GRACE_DAYS)
            text = (
                f"The allocation {what} ended {when}. Unless it is extended, it will be terminated "
                f"after {grace:%-d %B %Y}."
            )
        else:
            left = f"{days_left} day{'s' if days_left != 1 else ''}"
            subject = f"{resource.name} ends in {left}"
            text = f"The allocation {what} ends {when}, in {left}."
        details = {"resource_name": resource.name, "end_date": resource.end_date, "days_left": days_left}
        for provider, users in recipients.allocation_sides(resource):
            told += len(
                services.notify(
                    users,
                    kind="allocation_ended" if ended else "allocation_ending",
                    group=Group.END_DATES,
                    subject=subject,
                    text=text,
                    url=resource_url(resource, provider=provider),
                    dedupe_key=f"end-date:{resource.uuid.hex}:{resource.end_date.isoformat()}:{notice}",
                    details=details,
                )
            )
    return {"notified": told}


@periodic("notifications.usage_not_reported", cron="30 6 * * *")
def usage_not_reported() -> dict[str, Any]:
    """From the 3rd of a month: the providers whose allocations have no usage for last month, one
    notification per offering listing them, once per month. "Missing" is `marketplace/coverage.py`'s rule."""
    today = timezone.localdate()
    if today.day < USAGE_DUE_DAY:
        return {"notified": 0, "skipped": "before the due day"}
    last_month = add_months(current_month(), -1)
    ids = coverage.missing_in(Resource.objects.all(), last_month)
    missing: dict[int, list[Resource]] = defaultdict(list)
    for resource in Resource.objects.filter(pk__in=ids).order_by("offering_id", "name", "pk"):
        missing[resource.offering_id].append(resource)
    told = 0
    for offering in Offering.objects.filter(pk__in=list(missing)).select_related("customer").order_by("pk"):
        names = [resource.name for resource in missing[offering.pk]]
        month = f"{last_month:%B %Y}"
        count = len(names)
        plural = "s" if count != 1 else ""
        told += len(
            services.notify(
                recipients.allocation_providers(offering),
                kind="usage_not_reported",
                group=Group.USAGE,
                subject=f"{offering.name}: usage for {month} not reported for {count} allocation{plural}",
                text=f"No usage was reported for {month} for {offering.name}: {', '.join(names)}.",
                url=reverse("web:coverage")
                + f"?offering={offering.uuid.hex}&from={month_key(last_month)}&to={month_key(last_month)}"
                + "&only_missing=on",
                dedupe_key=f"usage-missing:{offering.uuid.hex}:{month_key(last_month)}",
                details={"offering_name": offering.name, "resource_names": names, "month": month},
            )
        )
    return {"notified": told, "offerings": len(missing)}


@periodic("notifications.role_expiry", cron="15 6 * * *")
def role_expiry() -> dict[str, Any]:
    """A role that ends within 7 days: its holder hears of it, once per grant and expiry time."""
    now = timezone.now()
    told = 0
    grants: list[tuple[RoleGrant, str, str, str]] = []
    for grant in CustomerRole.objects.filter(
        expiration_time__gt=now, expiration_time__lte=now + ROLE_NOTICE, user__is_active=True
    ).select_related("user", "customer"):
        url = reverse("web:organisation", args=[grant.customer.uuid.hex])
        grants.append((grant, grant.get_role_display(), f"organisation {grant.customer.name}", url))
    for project_grant in ProjectRole.objects.filter(
        expiration_time__gt=now, expiration_time__lte=now + ROLE_NOTICE, user__is_active=True
    ).select_related("user", "project"):
        url = reverse("web:project", args=[project_grant.project.uuid.hex])
        grants.append(
            (project_grant, project_grant.get_role_display(), f"project {project_grant.project.name}", url)
        )
    for grant, role, scope, url in grants:
        assert grant.expiration_time is not None
        when = timezone.localtime(grant.expiration_time)
        user: User = grant.user  # type: ignore[attr-defined]
        told += len(
            services.notify(
                [user],
                kind="role_expiring",
                group=Group.ROLES,
                subject=f"Your role {role} in {scope} ends on {when:%-d %B %Y}",
                text=f"Your role {role} in {scope} ends on {when:%-d %B %Y at %H:%M}. {EXTEND}",
                url=url,
                dedupe_key=f"role-expiry:{grant.uuid.hex}:{grant.expiration_time.isoformat()}",
                details={"role": role, "scope": scope, "expires": when},
            )
        )
    return {"notified": told}
