"""The admin reads the record of access, of periodic job runs and the live worker processes; none changes
here."""

from typing import Any

from django.contrib import admin
from django.db.models import QuerySet
from django.http import HttpRequest

from efp.events.catalogue import ACCESS_TYPES
from efp.events.models import AccessEvent, JobRun, WorkerBeat


class ViewOnly:
    """For a model admin or an inline: staff read, nobody adds, changes or deletes (every app's admin of
    history, usage, limits, states and roles uses it)."""

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(JobRun)
class JobRunAdmin(ViewOnly, admin.ModelAdmin):
    list_display = ("job", "slot", "status", "enqueued", "started", "finished")
    list_filter = ("status", "job")
    date_hierarchy = "slot"


@admin.register(WorkerBeat)
class WorkerBeatAdmin(ViewOnly, admin.ModelAdmin):
    list_display = ("worker_id", "host", "pid", "started", "seen")


@admin.register(AccessEvent)
class AccessEventAdmin(ViewOnly, admin.ModelAdmin):
    """Sign-ins, failed sign-ins, lockouts, API tokens and role changes, with the client's address."""

    list_display = ("created", "event_type", "person", "ip_address", "message")
    list_filter = ("event_type",)
    search_fields = ("message",)
    date_hierarchy = "created"
    readonly_fields = ("uuid", "created", "event_type", "message", "context", "actor", "user_id")
    exclude = ("customer_id", "project_id", "offering_id", "resource_id", "order_id")

    def get_queryset(self, request: HttpRequest) -> QuerySet[AccessEvent]:
        return super().get_queryset(request).filter(event_type__in=ACCESS_TYPES)

    @admin.display(description="person")
    def person(self, event: AccessEvent) -> str:
        return str(event.context.get("affected_user_username") or event.context.get("user_username") or "")

    @admin.display(description="address")
    def ip_address(self, event: AccessEvent) -> str:
        return str(event.context.get("ip_address") or "")
