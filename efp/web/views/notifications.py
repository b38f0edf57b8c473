"""The bell's pages: the list of my notifications (newest first, mark read, mark all read), the bell
itself for htmx to refresh, and my e-mail preferences (shown in the profile). Each action calls one
service of `efp.notifications.services`."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_POST

from efp.notifications import services
from efp.web.forms import NotificationPreferencesForm
from efp.web.sorting import Column, Sorting
from efp.web.views.common import current_user, get_by_uuid, paginate

NOTIFICATION_COLUMNS = {
    "created": Column("Date", ("created",)),
    "subject": Column("Subject", ("subject",)),
    "group": Column("Kind", ("group", "created")),
}


@login_required
@require_GET
def notification_list(request: HttpRequest) -> HttpResponse:
    sorting = Sorting(request, "notifications", NOTIFICATION_COLUMNS, "-created")
    rows = sorting.order(services.notifications_of(request.user).defer("html", "text"))
    unread_only = request.GET.get("unread") == "1"
    if unread_only:
        rows = rows.filter(read_at__isnull=True)
    page = paginate(request, rows)
    context = {"page": page, "unread_only": unread_only, "notifications_page": True, "sorting": sorting}
    return render(request, "web/notifications.html", context)


@login_required
@require_GET
def bell(request: HttpRequest) -> HttpResponse:
    """The bell alone: htmx swaps it in every so often."""
    return render(request, "web/_bell.html", {"unread": services.unread_count(request.user)})


@login_required
@require_POST
def mark_read(request: HttpRequest, uuid: str) -> HttpResponse:
    notification = get_by_uuid(services.notifications_of(request.user), uuid)
    services.mark_read(notification=notification, user=current_user(request))
    return redirect(_back(request))


@login_required
@require_POST
def mark_all_read(request: HttpRequest) -> HttpResponse:
    marked = services.mark_all_read(user=current_user(request))
    messages.success(request, f"{marked} notification{'s' if marked != 1 else ''} marked read.")
    return redirect(_back(request))


def _back(request: HttpRequest) -> str:
    return "/notifications/?unread=1" if request.POST.get("unread") == "1" else "/notifications/"


@login_required
@require_POST
def preferences(request: HttpRequest) -> HttpResponse:
    user = current_user(request)
    form = NotificationPreferencesForm(request.POST)
    if form.is_valid():
        services.update_preferences(user=user, choices=dict(form.cleaned_data))
        messages.success(request, "Your e-mail preferences were saved.")
        return redirect("web:profile")
    from efp.web.views.accounts import profile_context  # accounts imports this module's preferences_form

    return render(request, "web/profile.html", profile_context(request, preferences_form=form), status=400)


def preferences_form(request: HttpRequest) -> NotificationPreferencesForm:
    return NotificationPreferencesForm(initial=services.preferences_of(current_user(request)))
