"""The site agent's per-member sync report (`set_membership_sync_statuses`): a full replacement of what a
resource's team looked like at the provider's backend. Only offerings that opt in through the plugin option
`enable_membership_sync_status` take reports (409 otherwise, as Waldur). An entry names its person by
`user_uuid` or by their offering-user `username` at this offering; entries naming nobody are skipped and
echoed back, and the rest are stored."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.db import transaction
from django.utils import timezone

from efp.accounts.models import User
from efp.marketplace.models import MemberSyncStatus, OfferingUser, Resource
from efp.marketplace.services.guard import check, may
from efp.marketplace.verbs import RESOURCE_VERBS


@dataclass(frozen=True)
class SyncEntry:
    scope_type: str
    role_name: str
    state: str
    username: str = ""
    user_uuid: Any = None
    resource_project_uuid: Any = None
    message: str = ""

    def label(self) -> str:
        return self.username or (self.user_uuid.hex if self.user_uuid else "")


def may_report_member_sync(user: Any, resource: Resource) -> bool:
    """For the API, which asks who may before it reads the body."""
    return may(RESOURCE_VERBS["set_membership_sync_statuses"], resource, user)


def _people(resource: Resource, entries: list[SyncEntry]) -> tuple[dict[Any, int], dict[str, int]]:
    """Who the entries name: user keys by UUID, and by this offering's usernames (two queries)."""
    uuids = {entry.user_uuid for entry in entries if entry.user_uuid}
    names = {entry.username for entry in entries if entry.username and not entry.user_uuid}
    by_uuid = dict(User.objects.filter(uuid__in=uuids).values_list("uuid", "pk")) if uuids else {}
    by_name: dict[str, int] = {}
    if names:
        accounts = OfferingUser.objects.filter(
            offering_id=resource.offering_id, username__in=names, user__isnull=False
        ).values_list("username", "user_id")
        by_name = dict(accounts)
    return by_uuid, by_name


def report_member_sync(*, user: Any, resource: Resource, entries: list[SyncEntry]) -> tuple[int, list[str]]:
    """Replaces the resource's statuses with `entries`; the number stored and the labels skipped."""
    check("set_membership_sync_statuses", resource, user)  # with the opt-in (Check.REPORTS_MEMBER_SYNC)
    by_uuid, by_name = _people(resource, entries)
    now = timezone.now()
    rows, skipped = [], []
    for entry in entries:
        person = by_uuid.get(entry.user_uuid) if entry.user_uuid else by_name.get(entry.username)
        if person is None:
            skipped.append(entry.label())
            continue
        rows.append(
            MemberSyncStatus(
                resource=resource,
                user_id=person,
                scope_type=entry.scope_type,
                role_name=entry.role_name,
                state=entry.state,
                message=entry.message,
                resource_project_uuid=entry.resource_project_uuid,
                reported=now,
            )
        )
    with transaction.atomic():
        MemberSyncStatus.objects.filter(resource=resource).delete()
        MemberSyncStatus.objects.bulk_create(rows)
    return len(rows), skipped
