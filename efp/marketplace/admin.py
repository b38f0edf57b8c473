"""Django admin for staff. States, limits, usage, roles and history are read-only here: they change only
through services (docs/architecture.md, "History"); orders and resources are deleted by the API's unlink,
which leaves a tombstone."""

from typing import Any

from django import forms
from django.contrib import admin
from django.db import models
from django.http import HttpRequest

from efp.marketplace import plugin_options
from efp.marketplace.models import (
    AgentIdentity,
    AgentService,
    Category,
    ComponentUsage,
    ComponentUserUsage,
    Offering,
    OfferingComponent,
    OfferingRole,
    OfferingUser,
    Order,
    OrderEvent,
    Plan,
    PlanComponent,
    Resource,
    ResourceEvent,
    ServiceProvider,
    Tombstone,
    UsageRevision,
)
from efp.structure.admin import ViewOnly


class NotDeleted:
    """Deleted only through a service (which leaves a tombstone), never from the admin."""

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(ServiceProvider)
class ServiceProviderAdmin(admin.ModelAdmin):
    list_display = ("customer", "created")


@admin.register(Category)
class CategoryAdmin(admin.ModelAdmin):
    list_display = ("title",)
    search_fields = ("title",)


class OfferingComponentInline(admin.TabularInline):
    model = OfferingComponent
    extra = 0


class OfferingRoleInline(ViewOnly, admin.TabularInline):  # granted by services/offerings.py
    model = OfferingRole
    extra = 0


class OfferingForm(forms.ModelForm):
    class Meta:
        model = Offering
        exclude: tuple[str, ...] = ()

    def clean_plugin_options(self) -> Any:
        value = self.cleaned_data.get("plugin_options") or {}
        problems = plugin_options.errors(value) if isinstance(value, dict) else ["Expected an object."]
        if problems:
            raise forms.ValidationError(problems)
        return value


@admin.register(Offering)
class OfferingAdmin(admin.ModelAdmin):
    form = OfferingForm
    list_display = ("name", "type", "customer", "state", "shared", "billable")
    list_filter = ("type", "state")
    search_fields = ("name", "slug")
    prepopulated_fields = {"slug": ("name",)}
    inlines = (OfferingComponentInline, OfferingRoleInline)


class PlanComponentInline(admin.TabularInline):
    model = PlanComponent
    extra = 0


@admin.register(Plan)
class PlanAdmin(admin.ModelAdmin):
    list_display = ("name", "offering", "unit", "unit_price", "archived")
    inlines = (PlanComponentInline,)


EVENT_FIELDS = ("old_state", "new_state", "actor", "reason", "created")


class OrderEventInline(ViewOnly, admin.TabularInline):
    model = OrderEvent
    fields = EVENT_FIELDS


@admin.register(Order)
class OrderAdmin(NotDeleted, admin.ModelAdmin):
    list_display = ("uuid", "type", "state", "offering", "project", "created")
    list_filter = ("state", "type")
    readonly_fields = ("state", "limits")
    inlines = (OrderEventInline,)
    formfield_overrides = {models.URLField: {"assume_scheme": "https"}}  # callback_url: Django 6's default


class ResourceEventInline(ViewOnly, admin.TabularInline):
    model = ResourceEvent
    fields = EVENT_FIELDS


@admin.register(Resource)
class ResourceAdmin(NotDeleted, admin.ModelAdmin):
    list_display = ("name", "offering", "project", "state", "backend_id", "created")
    list_filter = ("state",)
    search_fields = ("name", "backend_id")
    # A resource's offering and project are fixed: its usage rows carry them (`ComponentUsage.offering`).
    readonly_fields = ("offering", "project", "state", "limits", "current_usages")
    inlines = (ResourceEventInline,)


class ComponentUserUsageInline(ViewOnly, admin.TabularInline):
    model = ComponentUserUsage
    fields = ("username", "user", "usage", "description", "modified")


@admin.register(ComponentUsage)
class ComponentUsageAdmin(ViewOnly, admin.ModelAdmin):
    """Usage is reported through the API or the GUI (services/usage.py), which keeps its revisions."""

    list_display = ("resource", "component", "billing_period", "usage", "modified_by")
    list_filter = ("billing_period",)
    inlines = (ComponentUserUsageInline,)


@admin.register(UsageRevision)
class UsageRevisionAdmin(ViewOnly, admin.ModelAdmin):
    list_display = ("component_usage_id", "username", "old_value", "new_value", "actor", "source", "created")
    list_filter = ("source",)


@admin.register(OrderEvent)
class OrderEventAdmin(ViewOnly, admin.ModelAdmin):
    list_display = ("order_id", "old_state", "new_state", "actor", "reason", "created")
    list_filter = ("new_state",)


@admin.register(ResourceEvent)
class ResourceEventAdmin(ViewOnly, admin.ModelAdmin):
    list_display = ("resource_id", "old_state", "new_state", "actor", "reason", "created")
    list_filter = ("new_state",)


@admin.register(Tombstone)
class TombstoneAdmin(ViewOnly, admin.ModelAdmin):
    list_display = ("kind", "uuid", "name", "deleted_by", "reason", "created")
    list_filter = ("kind",)
    search_fields = ("=uuid", "name")


@admin.register(OfferingUser)
class OfferingUserAdmin(admin.ModelAdmin):
    """Staff set a person's account name at an offering here (the site agent reads it)."""

    list_display = ("user", "offering", "username", "state", "is_restricted")
    list_filter = ("state", "is_restricted")
    search_fields = ("username", "user__username")


class AgentServiceInline(admin.TabularInline):
    model = AgentService
    extra = 0
    can_delete = False
    readonly_fields = ("name", "mode", "state", "statistics", "created", "modified")


@admin.register(AgentIdentity)
class AgentIdentityAdmin(admin.ModelAdmin):
    """What site agents registered; they keep it up to date themselves."""

    list_display = ("name", "offering", "version", "last_restarted", "modified")
    readonly_fields = (
        "offering", "name", "version", "dependencies", "config_file_path", "config_file_content",
        "last_restarted", "created_by", "created", "modified", "rmq_username", "rmq_vhost", "object_types",
    )  # fmt: skip
    inlines = (AgentServiceInline,)
