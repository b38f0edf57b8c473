"""The API's check of a token limited to one offering (`ApiToken.offering`), on every request: the rules are
`efp.structure.access.token_scope_refusal`. Out of scope: 403 with the reason; an object of another offering:
404; a list shows only the offering's rows (`TokenScopeFilter`)."""

from __future__ import annotations

from typing import Any

from rest_framework.exceptions import NotFound, PermissionDenied
from rest_framework.filters import BaseFilterBackend
from rest_framework.permissions import BasePermission
from rest_framework.request import Request

from efp.structure import access


class TokenScope(BasePermission):
    def has_permission(self, request: Request, view: Any) -> bool:
        offering_id = getattr(request.auth, "offering_id", None)
        if offering_id is None:
            return True
        lookup_field = getattr(view, "lookup_url_kwarg", None) or getattr(view, "lookup_field", "uuid")
        reason = access.token_scope_refusal(
            offering_id=offering_id,
            basename=getattr(view, "basename", None),
            action=getattr(view, "action", None),
            lookup=getattr(view, "kwargs", {}).get(lookup_field),
            query=request.query_params,
            body=request.data if request.method not in ("GET", "HEAD", "OPTIONS") else None,
        )
        if reason == access.OUT_OF_SCOPE:
            raise NotFound()
        if reason is not None:
            raise PermissionDenied(reason)
        return True


class TokenScopeFilter(BaseFilterBackend):
    """A list asked with a token limited to an offering holds only that offering's rows."""

    def filter_queryset(self, request: Request, queryset: Any, view: Any) -> Any:
        offering_id = getattr(request.auth, "offering_id", None)
        if offering_id is None:
            return queryset
        return access.token_scope_narrowed(
            queryset, offering_id=offering_id, basename=getattr(view, "basename", None)
        )
