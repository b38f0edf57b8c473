"""Django admin for staff. State fields are read-only here: states change only through services."""

from typing import Any

from django import forms
from django.contrib import admin

from efp.marketplace import plugin_options
from efp.marketplace.models import (
    AgentIdentity,
    AgentService,
    Category,
    ComponentUsage,
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
)


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


class OfferingRoleInline(admin.TabularInline):
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


class OrderEventInline(admin.TabularInline):
    model = OrderEvent
    extra = 0
    can_delete = False
    readonly_fields = ("old_state", "new_state", "actor", "reason", "created")


@admin.register(Order)
class OrderAdmin(admin.ModelAdmin):
    list_display = ("uuid", "type", "state", "offering", "project", "created")
    list_filter = ("state", "type")
    readonly_fields = ("state",)
    inlines = (OrderEventInline,)


class ResourceEventInline(admin.TabularInline):
    model = ResourceEvent
    extra = 0
    can_delete = False
    readonly_fields = ("old_state", "new_state", "actor", "reason", "created")


@admin.register(Resource)
class ResourceAdmin(admin.ModelAdmin):
    list_display = ("name", "offering", "project", "state", "backend_id", "created")
    list_filter = ("state",)
    search_fields = ("name", "backend_id")
    readonly_fields = ("state",)
    inlines = (ResourceEventInline,)


@admin.register(ComponentUsage)
class ComponentUsageAdmin(admin.ModelAdmin):
    list_display = ("resource", "component", "billing_period", "usage", "modified_by")
    list_filter = ("billing_period",)


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
        "last_restarted", "created_by", "created", "modified",
    )  # fmt: skip
    inlines = (AgentServiceInline,)
