from typing import Any

from django import forms
from django.contrib import admin
from django.contrib.auth.admin import UserAdmin
from django.core.exceptions import ValidationError
from django.http import HttpRequest

from efp.accounts import services
from efp.accounts.models import ApiToken, OidcIdentity, SshKey, User
from efp.rest.addresses import client_address


class OidcIdentityInline(admin.TabularInline):
    """Who the OpenID Connect issuer says this person is (written at their first sign-in); read only."""

    model = OidcIdentity
    fields = readonly_fields = ("issuer", "subject", "created")
    extra = 0
    can_delete = False

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(User)
class EFPUserAdmin(UserAdmin):
    """Users are deactivated, not deleted: history names them (PROTECT) and their roles would go."""

    list_display = ("username", "email", "first_name", "last_name", "is_staff", "is_support")
    inlines = (OidcIdentityInline,)

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    fieldsets = (
        *(UserAdmin.fieldsets or ()),
        ("EFP", {"fields": ("is_support", "civil_number", "organization", "token_lifetime")}),
    )


class SshKeyForm(forms.ModelForm):
    class Meta:
        model = SshKey
        fields = ("user", "name", "public_key")

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if self.instance.pk is None and data.get("user") and data.get("public_key"):
            try:
                services.check_ssh_key(user=data["user"], public_key=data["public_key"])
            except ValidationError as error:
                raise forms.ValidationError(error.message_dict) from error
        return data


@admin.register(SshKey)
class SshKeyAdmin(admin.ModelAdmin):
    """Keys are added (validated and fingerprinted by the service) or deleted, never edited."""

    form = SshKeyForm
    list_display = ("name", "user", "fingerprint_sha256", "created")
    search_fields = ("name", "user__username", "fingerprint_sha256", "fingerprint_md5")
    readonly_fields = ("uuid", "fingerprint_md5", "fingerprint_sha256", "fingerprint_sha512", "created")

    def get_readonly_fields(self, request: HttpRequest, obj: SshKey | None = None) -> Any:
        if obj is not None:
            return (*self.readonly_fields, "user", "name", "public_key")
        return self.readonly_fields

    def save_model(self, request: HttpRequest, obj: SshKey, form: Any, change: bool) -> None:
        if change:
            return
        saved = services.add_ssh_key(user=obj.user, public_key=obj.public_key, name=obj.name)
        obj.pk, obj.uuid = saved.pk, saved.uuid


@admin.register(ApiToken)
class ApiTokenAdmin(admin.ModelAdmin):
    """Staff see every token (never a key: only its digest is stored) and may revoke them; tokens are made
    by their owners (profile, API, `efp token`)."""

    list_display = ("name", "user", "prefix", "created", "expires", "last_used", "last_used_from", "revoked")
    list_select_related = ("user",)
    search_fields = ("name", "user__username", "prefix")
    readonly_fields = (
        "uuid", "user", "name", "prefix", "created", "expires", "last_used", "last_used_from", "revoked",
        "offering",
    )  # fmt: skip
    exclude = ("digest",)
    actions = ("revoke",)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    @admin.action(description="Revoke the selected tokens")
    def revoke(self, request: HttpRequest, queryset: Any) -> None:
        revoked = 0
        for token in queryset.filter(revoked__isnull=True):
            services.revoke_token(token=token, by=request.user, address=client_address(request))
            revoked += 1
        self.message_user(request, f"{revoked} token{'s' if revoked != 1 else ''} revoked.")
