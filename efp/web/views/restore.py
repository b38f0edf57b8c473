"""Restore, for providers: a terminated resource of an offering that allows it (`can_restore_resource`) gets
a Restore order from a confirmation page at `/provider/resources/<uuid>/restore/`. Who may, from which state
and on which offerings is the `restore` verb's (`marketplace/verbs.py`); the page shows its refusal and the
service (`services/orders.restore_resource`) checks again."""

from __future__ import annotations

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.urls import reverse

from efp.errors import DomainError
from efp.marketplace.selectors import workspace_resources
from efp.marketplace.services.guard import refusal
from efp.marketplace.services.orders import restore_resource
from efp.web.access import provider_workspace
from efp.web.views.common import current_user, error_text, get_by_uuid, render_workspace, status_of


@provider_workspace
def restore(request: HttpRequest, uuid: str) -> HttpResponse:
    user = current_user(request)
    resource = get_by_uuid(
        workspace_resources(user).select_related("offering__customer", "project__customer", "plan"), uuid
    )
    back = reverse("web:resource", args=[resource.uuid.hex])
    refused = refusal("restore", resource, user)
    error, status = (refused.message if refused else ""), 200
    if request.method == "POST" and refused is not None:
        status = status_of(refused.error())  # the refusal's words for a person, its status for the page
    elif request.method == "POST":
        try:
            restore_resource(resource=resource, user=user)
        except DomainError as failure:
            error, status = error_text(failure), status_of(failure)
        else:
            done = f"Restore of {resource.name} requested: it is Creating until its order is done."
            messages.success(request, done)
            return redirect(back)
    return render_workspace(
        request,
        "web/provider/restore.html",
        {"resource": resource, "back": back, "error": error, "may_restore": refused is None},
        section="resources",
        status=status,
    )
