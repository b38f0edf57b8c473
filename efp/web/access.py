"""Who may enter the provider workspace, and which row actions a user may take (looked up once per page)."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest
from django.http.response import HttpResponseBase

from efp.marketplace.models import Offering
from efp.marketplace.selectors import is_provider_user
from efp.structure import access
from efp.structure.roles import Permission

View = Callable[..., HttpResponseBase]  # a page, or a download (StreamingHttpResponse)


def provider_workspace(view: View) -> View:
    """Login required (redirect), then a provider role (403): a consumer never sees the workspace."""

    @login_required
    @wraps(view)
    def wrapped(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
        if not is_provider_user(request.user):
            raise PermissionDenied("The provider workspace is for users with a role in a service provider.")
        request.provider_user = True  # type: ignore[attr-defined]  # the top bar need not ask again
        return view(request, *args, **kwargs)

    return wrapped


class ProviderGrants:
    """`has_permission` on the provider side of many offerings: one query per permission reads the
    offerings it is held on (`access.permitted_offerings`, the rule `has_permission` asks).

    This only batches the lookups a list page needs to enable or disable row actions. The services check
    again when the action is taken.
    """

    def __init__(self, user: Any, permissions: list[Permission]) -> None:
        self.user = user
        self.is_staff = access.may_do_everything(user)
        self._permissions = frozenset(permissions)
        self._offerings: dict[Permission, Any] = {}

    def allows(self, permission: Permission, offering: Offering) -> bool:
        """A permission is looked up the first time a row asks for it (Restore, asked only by terminated
        rows, costs nothing on a page without one); one not declared is not held."""
        if self.is_staff:
            return True
        if permission not in self._permissions:
            return False
        if permission not in self._offerings:
            self._offerings[permission] = access.permitted_offerings(self.user, permission).keys()
        return offering.pk in self._offerings[permission]


class ProjectGrants:
    """`has_permission` on the consumer side (project or its organisation) for a page of orders or
    resources: one query per permission reads the projects it is held on (`access.permitted_projects`).
    The services check again when the action is taken."""

    def __init__(self, user: Any, permissions: list[Permission]) -> None:
        self.user = user
        self.is_staff = access.may_do_everything(user)
        self._projects: dict[Permission, set[int]] = {}
        if self.is_staff:
            return
        for permission in permissions:
            self._projects[permission] = access.permitted_projects(user, permission).keys()

    def allows(self, permission: Permission, item: Any) -> bool:
        """`item` is anything with a `project_id`: an order or a resource."""
        return self.is_staff or item.project_id in self._projects.get(permission, set())
