from django.contrib import admin

from efp.structure.models import Customer, CustomerRole, Project, ProjectRole


class CustomerRoleInline(admin.TabularInline):
    model = CustomerRole
    extra = 0
    autocomplete_fields = ("user",)


class ProjectRoleInline(admin.TabularInline):
    model = ProjectRole
    extra = 0
    autocomplete_fields = ("user",)


@admin.register(Customer)
class CustomerAdmin(admin.ModelAdmin):
    list_display = ("name", "slug", "abbreviation", "blocked", "archived", "created")
    search_fields = ("name", "slug", "abbreviation")
    prepopulated_fields = {"slug": ("name",)}
    inlines = (CustomerRoleInline,)


@admin.register(Project)
class ProjectAdmin(admin.ModelAdmin):
    list_display = ("name", "customer", "start_date", "end_date", "is_removed")
    list_filter = ("is_removed",)
    search_fields = ("name", "slug")
    prepopulated_fields = {"slug": ("name",)}
    inlines = (ProjectRoleInline,)
