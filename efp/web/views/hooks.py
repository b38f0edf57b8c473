"""The provider's web hooks: list, add (the secret shown once), send a test, deliveries with their
attempts, send one again, activate or deactivate, delete. Each action calls one `efp.hooks.services` verb."""

from __future__ import annotations

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.urls import reverse
from django.views.decorators.http import require_POST

from efp.errors import DomainError, InvalidInput
from efp.hooks import services
from efp.hooks.models import WebhookDelivery
from efp.hooks.selectors import hook_deliveries, visible_web_hooks
from efp.web.access import provider_workspace
from efp.web.hook_forms import WebHookForm
from efp.web.sorting import Column, Sorting
from efp.web.views.common import current_user, error_text, get_by_uuid, paginate, render_workspace

SECTION = "hooks"


HOOK_COLUMNS = {
    "destination": Column("Destination", ("destination_url",)),
    "format": Column("Format", ("content_type",)),
    "status": Column("Status", ("is_active",)),
    "created": Column("Created", ("created",)),
}
DELIVERY_COLUMNS = {
    "event": Column("Event", ("event__event_type",)),
    "delivery": Column("Delivery", ("created",)),
    "state": Column("State", ("state",)),
    "attempts": Column("Attempts", ("attempt_count",)),
}


@provider_workspace
def hook_list(request: HttpRequest) -> HttpResponse:
    sorting = Sorting(request, "hooks", HOOK_COLUMNS, "-created")
    hooks = sorting.order(visible_web_hooks(request.user))
    return render_workspace(
        request,
        "web/provider/hooks.html",
        {"page": paginate(request, hooks), "sorting": sorting},
        section=SECTION,
    )


@provider_workspace
def hook_create(request: HttpRequest) -> HttpResponse:
    status = 200
    form = WebHookForm(request.POST if request.method == "POST" else None)
    if request.method == "POST":
        status = 400
        if form.is_valid():
            data = form.cleaned_data
            try:
                hook = services.create_web_hook(
                    user=current_user(request),
                    destination_url=data["destination_url"],
                    event_types=data["event_types"],
                    event_groups=data["event_groups"],
                    content_type=data["content_type"],
                )
            except InvalidInput as error:
                for field, problems in error.field_errors().items():
                    for problem in problems if isinstance(problems, list) else [problems]:
                        form.add_error(field if field in form.fields else None, str(problem))
            else:
                # The secret is shown on this answer only: never stored in a message or the session.
                return render_workspace(
                    request, "web/provider/hook_created.html", {"hook": hook}, section=SECTION, status=201
                )
    return render_workspace(
        request, "web/provider/hook_form.html", {"form": form}, section=SECTION, status=status
    )


@provider_workspace
def hook_detail(request: HttpRequest, uuid: str) -> HttpResponse:
    hook = get_by_uuid(visible_web_hooks(request.user), uuid)
    sorting = Sorting(request, "hook-deliveries", DELIVERY_COLUMNS, "-delivery")
    deliveries = sorting.order(hook_deliveries(hook))
    context = {"hook": hook, "page": paginate(request, deliveries, per_page=20), "sorting": sorting}
    return render_workspace(request, "web/provider/hook.html", context, section=SECTION)


def _act(request: HttpRequest, uuid: str, action: str) -> HttpResponse:
    hook = get_by_uuid(visible_web_hooks(request.user), uuid)
    back = reverse("web:hook", args=[hook.uuid.hex])
    try:
        if action == "test":
            services.send_test(hook=hook, user=current_user(request))
            messages.success(request, f"A test event is on its way to {hook.destination_url}.")
        elif action in ("activate", "deactivate"):
            services.update_web_hook(hook=hook, is_active=action == "activate")
            messages.success(request, f"The web hook is {'active' if action == 'activate' else 'inactive'}.")
        elif action == "delete":
            services.delete_hook(hook=hook)
            messages.success(request, f"The web hook to {hook.destination_url} is deleted.")
            return redirect("web:hooks")
    except DomainError as error:
        messages.error(request, error_text(error))
    return redirect(back)


@provider_workspace
@require_POST
def hook_test(request: HttpRequest, uuid: str) -> HttpResponse:
    return _act(request, uuid, "test")


@provider_workspace
@require_POST
def hook_active(request: HttpRequest, uuid: str) -> HttpResponse:
    return _act(request, uuid, "activate" if request.POST.get("active") == "1" else "deactivate")


@provider_workspace
def hook_delete(request: HttpRequest, uuid: str) -> HttpResponse:
    if request.method == "POST":
        return _act(request, uuid, "delete")
    hook = get_by_uuid(visible_web_hooks(request.user), uuid)
    return render_workspace(request, "web/provider/hook_delete.html", {"hook": hook}, section=SECTION)


@provider_workspace
@require_POST
def delivery_resend(request: HttpRequest, uuid: str, delivery: str) -> HttpResponse:
    hook = get_by_uuid(visible_web_hooks(request.user), uuid)
    original = get_by_uuid(WebhookDelivery.objects.filter(hook=hook), delivery)
    try:
        services.resend(delivery=original)
    except DomainError as error:
        messages.error(request, error_text(error))
    else:
        messages.success(request, f"The {original.event.event_type} event is sent again as a new delivery.")
    return redirect("web:hook", hook.uuid.hex)
