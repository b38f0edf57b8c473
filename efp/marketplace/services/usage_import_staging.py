"""The GUI's side of usage imports: a template CSV to start from, and the uploaded file kept between its
preview and Apply (`StagedUsageImport`: its uploader's only, expiring, removed once applied)."""

from __future__ import annotations

import csv
import datetime
import io
import uuid
from typing import Any

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from efp.marketplace import selectors
from efp.marketplace.billing_months import add_months, billing_period_of, month_key
from efp.marketplace.models import StagedUsageImport, UsageRevision
from efp.marketplace.services.usage import REPORTABLE_BILLING_TYPES, can_report_usage
from efp.marketplace.services.usage_import_file import COLUMNS, bad_file
from efp.marketplace.services.usage_imports import ImportPlan, import_usage
from efp.marketplace.states import USAGE_REPORTABLE_STATES

MSG_GONE = "This upload has expired or was applied already; upload the file again."


def stage_import(*, user: Any, content: bytes, filename: str = "") -> tuple[StagedUsageImport, ImportPlan]:
    """Keeps an uploaded file for its Apply and previews it (a file that is not a usage CSV is refused
    and not kept). Expired uploads of everyone are removed on the way."""
    plan = import_usage(user=user, content=content, dry_run=True)
    now = timezone.now()
    with transaction.atomic():
        StagedUsageImport.objects.filter(expires__lt=now).delete()
        staged = StagedUsageImport.objects.create(
            owner=user,
            filename=filename[:255],
            content=content,
            created=now,
            expires=now + datetime.timedelta(seconds=settings.EFP_STAGED_IMPORT_SECONDS),
        )
    return staged, plan


def staged_import(*, user: Any, key: str) -> StagedUsageImport:
    """The user's own unexpired upload `key` (a uuid), else InvalidInput on `file`."""
    staged = StagedUsageImport.objects.filter(owner=user, expires__gte=timezone.now())
    found = staged.filter(uuid=key).first() if _is_uuid(key) else None
    if found is None:
        raise bad_file(MSG_GONE)
    return found


def preview_staged(*, user: Any, key: str) -> tuple[StagedUsageImport, ImportPlan]:
    staged = staged_import(user=user, key=key)
    return staged, import_usage(user=user, content=bytes(staged.content), dry_run=True)


def apply_staged(*, user: Any, key: str) -> ImportPlan:
    """Applies the user's upload `key` (all lines or none: `ImportRefused`); once applied it is gone."""
    with transaction.atomic():
        staged = staged_import(user=user, key=key)
        plan = import_usage(
            user=user, content=bytes(staged.content), dry_run=False, source=UsageRevision.Source.GUI
        )
        staged.delete()
    return plan


def _is_uuid(key: str) -> bool:
    try:
        uuid.UUID(key)
    except ValueError:
        return False
    return True


TEMPLATE_RESOURCES = 3


def template_csv(*, user: Any) -> str:
    """A usage CSV to start from: the header, and for up to three resources the user may report usage
    of, a line for the current month and one correcting last month (with its reason column)."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(COLUMNS)
    current = billing_period_of(timezone.now())
    candidates = (
        selectors.provider_resources(user)
        .filter(state__in=USAGE_REPORTABLE_STATES, plan__isnull=False)
        .select_related("offering")
        .order_by("name", "pk")[: TEMPLATE_RESOURCES * 3]
    )
    written = 0
    for resource in candidates:
        if written == TEMPLATE_RESOURCES or not can_report_usage(user, resource):
            continue
        component = next(
            (
                c
                for c in resource.offering.components.order_by("pk")
                if c.billing_type in REPORTABLE_BILLING_TYPES
            ),
            None,
        )
        if component is None:
            continue
        key = resource.uuid.hex
        writer.writerow([key, component.type, month_key(current), "12.50", "", ""])
        username = (
            resource.offering.offering_users.exclude(username="").values_list("username", flat=True).first()
        )
        if username:
            writer.writerow([key, component.type, month_key(current), "4.25", username, ""])
        last = month_key(add_months(current, -1))
        writer.writerow([key, component.type, last, "30.00", "", "Meter fixed after outage"])
        written += 1
    if not written:
        writer.writerow(["<resource uuid>", "cpu", month_key(current), "12.50", "", ""])
    return out.getvalue()
