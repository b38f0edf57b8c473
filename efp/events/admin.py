"""The admin reads the record of periodic job runs and the live worker processes; neither changes here."""

from typing import Any

from django.contrib import admin
from django.http import HttpRequest

from efp.events.models import JobRun, WorkerBeat


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
