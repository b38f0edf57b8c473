"""Roles are read-only here: teams change through efp/structure/services.py (the last owner stays);
organisations and projects are not deleted here (a project is removed by `remove_project`)."""

from typing import Any

from django.contrib import admin
from django.http import HttpRequest

from efp.events.admin import ViewOnly
from efp.structure.models import Customer, CustomerRole, Project, ProjectRole


class ViewOnlyInline(ViewOnly, admin.TabularInline):
    extra = 0


class CustomerRoleInline(ViewOnlyInline):
    model = CustomerRole


class ProjectRoleInline(ViewOnlyInline):
    model = ProjectRole


class NotDeleted(admin.ModelAdmin):
    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(Customer)
class CustomerAdmin(NotDeleted):
    list_display = ("name", "slug", "abbreviation", "blocked", "archived", "created")
    search_fields = ("name", "slug", "abbreviation")
    prepopulated_fields = {"slug": ("name",)}
    inlines = (CustomerRoleInline,)


@admin.register(Project)
class ProjectAdmin(NotDeleted):
    list_display = ("name", "customer", "start_date", "end_date", "is_removed")
    list_filter = ("is_removed",)
    search_fields = ("name", "slug")
    prepopulated_fields = {"slug": ("name",)}
    inlines = (ProjectRoleInline,)
