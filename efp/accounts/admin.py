from django.contrib import admin
from django.contrib.auth.admin import UserAdmin

from efp.accounts.models import User


@admin.register(User)
class EFPUserAdmin(UserAdmin):
    list_display = ("username", "email", "first_name", "last_name", "is_staff", "is_support")
    fieldsets = (
        *(UserAdmin.fieldsets or ()),
        ("EFP", {"fields": ("is_support", "civil_number", "organization")}),
    )
