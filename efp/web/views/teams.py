"""Organisations and projects: owners create, edit and remove projects; owners manage the organisation's
team, owners and project administrators the project's team. The structure services decide; this shows."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.urls import reverse
from django.views.decorators.http import require_http_methods, require_POST

from efp.accounts.models import User
from efp.errors import DomainError, Forbidden, InvalidInput
from efp.marketplace.verbs import Side, who_may
from efp.structure import services
from efp.structure.models import Customer, CustomerRole, Project, ProjectRole
from efp.structure.permissions import has_permission
from efp.structure.roles import CUSTOMER_ROLES, PROJECT_ROLES, Permission, Role
from efp.structure.selectors import visible_customers, visible_projects
from efp.web.forms import ProjectForm, RoleEndForm, TeamMemberForm
from efp.web.sorting import Column, Sorting
from efp.web.views.common import current_user, error_text, get_by_uuid, render_consumer, today

TEAM_COLUMNS = {
    "user": Column("User", ("user__username",)),
    "role": Column("Role", ("role", "user__username")),
    "ends": Column("Role ends", ("expiration_time",)),
    "added": Column("Added", ("created",)),
}
PROJECT_COLUMNS = {
    "project": Column("Project", ("name",)),
    "start": Column("Start", ("start_date",)),
    "end": Column("End", ("end_date",)),
    "description": Column("Description", ("description",)),
}

ORGANISATION_COLUMNS = {
    "name": Column("Name", ("name",)),
    "created": Column("Created", ("created",)),
}


def _team(request: HttpRequest, list_name: str, grants: Any) -> dict[str, Any]:
    """The team table of a page, sorted by its headers (`?team=`: the organisation page shows two lists)."""
    sorting = Sorting(request, list_name, TEAM_COLUMNS, "role", param="team")
    return {"team": list(sorting.order(grants.select_related("user", "created_by"))), "team_sorting": sorting}


def _role_choices(roles: tuple[Role, ...]) -> list[tuple[str, str]]:
    return [(r.value, str(r.label)) for r in roles]


def _refused(permission: Permission, doing: str) -> PermissionDenied:
    """The 403 of a project action, naming who may from the role table."""
    return PermissionDenied(f"Only {who_may(permission, Side.CONSUMER)} may {doing}.")


@login_required
def organisation_list(request: HttpRequest) -> HttpResponse:
    user = request.user
    sorting = Sorting(request, "organisations", ORGANISATION_COLUMNS, "name")
    customers = list(sorting.order(visible_customers(user)))
    projects = visible_projects(user).select_related("customer").order_by("name", "pk")
    by_customer: dict[int, list[Project]] = {}
    for project in projects:
        by_customer.setdefault(project.customer_id, []).append(project)
    my_roles: dict[Any, list[str]] = {}
    for grant in CustomerRole.objects.filter(user=user):
        my_roles.setdefault(("c", grant.customer_id), []).append(str(Role(grant.role).label))
    for grant in ProjectRole.objects.filter(user=user):
        my_roles.setdefault(("p", grant.project_id), []).append(str(Role(grant.role).label))
    rows = [
        {
            "customer": c,
            "roles": my_roles.get(("c", c.pk), []),
            "projects": [
                {"project": p, "roles": my_roles.get(("p", p.pk), [])} for p in by_customer.get(c.pk, [])
            ],
        }
        for c in customers
    ]
    return render_consumer(
        request,
        "web/consumer/organisations.html",
        {"rows": rows, "today": today(), "sorting": sorting},
        section="structure",
    )


def _customer(request: HttpRequest, uuid: str) -> Customer:
    return get_by_uuid(visible_customers(request.user), uuid)


def _project(request: HttpRequest, uuid: str) -> Project:
    return get_by_uuid(visible_projects(request.user).select_related("customer"), uuid)


@login_required
def organisation_detail(request: HttpRequest, uuid: str) -> HttpResponse:
    return _organisation_page(request, _customer(request, uuid))


def _organisation_page(
    request: HttpRequest, customer: Customer, form: TeamMemberForm | None = None, status: int = 200
) -> HttpResponse:
    user = request.user
    can_manage_team = services.can_manage_team(user, customer)
    if can_manage_team and form is None:
        form = TeamMemberForm(roles=_role_choices(CUSTOMER_ROLES), initial_role=Role.CUSTOMER_OWNER)
    sorting = Sorting(request, "organisation-projects", PROJECT_COLUMNS, "project")
    context = {
        "customer": customer,
        "projects": sorting.order(visible_projects(user).filter(customer=customer)),
        "sorting": sorting,
        **_team(request, "organisation-team", CustomerRole.objects.filter(customer=customer)),
        "can_manage_team": can_manage_team,
        "can_manage_projects": has_permission(user, Permission.PROJECT_CREATE, customers=[customer]),
        "form": form,
        "add_url": reverse("web:organisation-team-add", args=[customer.uuid.hex]),
        "today": today(),
    }
    return render_consumer(
        request, "web/consumer/organisation.html", context, section="structure", status=status
    )


@login_required
def project_detail(request: HttpRequest, uuid: str) -> HttpResponse:
    return _project_page(request, _project(request, uuid))


def _project_page(
    request: HttpRequest, project: Project, form: TeamMemberForm | None = None, status: int = 200
) -> HttpResponse:
    user = request.user
    can_manage_team = services.can_manage_team(user, project)
    if can_manage_team and form is None:
        form = TeamMemberForm(roles=_role_choices(PROJECT_ROLES), initial_role=Role.PROJECT_MEMBER)
    context = {
        "project": project,
        **_team(request, "project-team", ProjectRole.objects.filter(project=project)),
        "can_manage_team": can_manage_team,
        "can_edit": has_permission(user, Permission.PROJECT_UPDATE, customers=[project.customer]),
        "can_delete": has_permission(user, Permission.PROJECT_DELETE, customers=[project.customer]),
        "form": form,
        "add_url": reverse("web:project-team-add", args=[project.uuid.hex]),
        "today": today(),
    }
    return render_consumer(request, "web/consumer/project.html", context, section="structure", status=status)


def _project_form_page(
    request: HttpRequest, *, title: str, customer: Customer, form: ProjectForm, status: int, back: str
) -> HttpResponse:
    return render_consumer(
        request,
        "web/consumer/project_form.html",
        {"title": title, "customer": customer, "form": form, "back": back},
        section="structure",
        status=status,
    )


def _attach(form: Any, error: DomainError) -> int:
    if isinstance(error, InvalidInput):
        for key, value in error.field_errors().items():
            for message in value if isinstance(value, list) else [value]:
                form.add_error(key if key in form.fields else None, str(message))
        return 400
    form.add_error(None, error_text(error))
    return 403 if isinstance(error, Forbidden) else 409


@login_required
@require_http_methods(["GET", "POST"])
def project_create(request: HttpRequest, uuid: str) -> HttpResponse:
    customer = _customer(request, uuid)
    if not has_permission(request.user, Permission.PROJECT_CREATE, customers=[customer]):
        raise _refused(Permission.PROJECT_CREATE, "create projects")
    back = reverse("web:organisation", args=[customer.uuid.hex])
    status = 200
    if request.method == "POST":
        form = ProjectForm(request.POST)
        status = 400
        if form.is_valid():
            try:
                project = services.create_project(
                    customer=customer, user=current_user(request), **form.cleaned_data
                )
            except DomainError as error:
                status = _attach(form, error)
            else:
                messages.success(request, f"Project {project.name} created.")
                return redirect("web:project", uuid=project.uuid.hex)
    else:
        form = ProjectForm()
    return _project_form_page(
        request, title="New project", customer=customer, form=form, status=status, back=back
    )


@login_required
@require_http_methods(["GET", "POST"])
def project_edit(request: HttpRequest, uuid: str) -> HttpResponse:
    project = _project(request, uuid)
    if not has_permission(request.user, Permission.PROJECT_UPDATE, customers=[project.customer]):
        raise _refused(Permission.PROJECT_UPDATE, "edit projects")
    back = reverse("web:project", args=[project.uuid.hex])
    status = 200
    if request.method == "POST":
        form = ProjectForm(request.POST)
        status = 400
        if form.is_valid():
            try:
                services.update_project(project=project, user=current_user(request), **form.cleaned_data)
            except DomainError as error:
                status = _attach(form, error)
            else:
                messages.success(request, f"Project {project.name} saved.")
                return redirect(back)
    else:
        form = ProjectForm(
            initial={
                "name": project.name,
                "description": project.description,
                "start_date": project.start_date,
                "end_date": project.end_date,
            }
        )
    return _project_form_page(
        request,
        title=f"Edit project {project.name}",
        customer=project.customer,
        form=form,
        status=status,
        back=back,
    )


@login_required
@require_http_methods(["GET", "POST"])
def project_delete(request: HttpRequest, uuid: str) -> HttpResponse:
    project = _project(request, uuid)
    if not has_permission(request.user, Permission.PROJECT_DELETE, customers=[project.customer]):
        raise _refused(Permission.PROJECT_DELETE, "remove projects")
    status, error = 200, ""
    if request.method == "POST":
        try:
            services.remove_project(project=project, user=current_user(request))
        except DomainError as exc:
            error, status = error_text(exc), 403 if isinstance(exc, Forbidden) else 400
        else:
            messages.success(request, f"Project {project.name} removed. Its orders and resources are kept.")
            return redirect("web:organisation", uuid=project.customer.uuid.hex)
    return render_consumer(
        request,
        "web/consumer/project_delete.html",
        {"project": project, "error": error},
        section="structure",
        status=status,
    )


def _team_add(request: HttpRequest, scope: Customer | Project) -> HttpResponse:
    roles = CUSTOMER_ROLES if isinstance(scope, Customer) else PROJECT_ROLES
    form = TeamMemberForm(request.POST, roles=_role_choices(roles))
    status = 400
    if form.is_valid():
        data = form.cleaned_data
        member = User.objects.filter(username=data["username"].strip(), is_active=True).first()
        if member is None:
            form.add_error("username", "No user has this username.")
        else:
            role = Role(data["role"])
            try:
                services.add_user_role(
                    scope=scope,
                    user=member,
                    role=role,
                    actor=current_user(request),
                    expiration_time=data.get("expiration_time"),
                )
            except DomainError as error:
                status = _attach(form, error)
            else:
                until = data.get("expiration_time")
                ending = f" until {until:%Y-%m-%d %H:%M}" if until else ""
                messages.success(
                    request, f"{member.get_full_name() or member.username} is {role.label}{ending}."
                )
                return redirect(_page_of(scope))
    if isinstance(scope, Customer):
        return _organisation_page(request, scope, form, status)
    return _project_page(request, scope, form, status)


def _page_of(scope: Customer | Project) -> str:
    if isinstance(scope, Customer):
        return reverse("web:organisation", args=[scope.uuid.hex])
    return reverse("web:project", args=[scope.uuid.hex])


def _grant(scope: Customer | Project, grant_uuid: str) -> Any:
    if isinstance(scope, Customer):
        grants: Any = CustomerRole.objects.filter(customer=scope)
    else:
        grants = ProjectRole.objects.filter(project=scope)
    return get_by_uuid(grants.select_related("user"), grant_uuid)


def _team_remove(request: HttpRequest, scope: Customer | Project, grant_uuid: str) -> HttpResponse:
    """GET asks for confirmation; POST revokes the role through the service."""
    grant = _grant(scope, grant_uuid)
    if not services.can_manage_team(request.user, scope):
        raise PermissionDenied("Only those who manage this team may remove someone from it.")
    status, error = 200, ""
    if request.method == "POST":
        try:
            services.delete_user_role(
                scope=scope, user=grant.user, role=Role(grant.role), actor=current_user(request)
            )
        except DomainError as exc:
            error, status = error_text(exc), 403 if isinstance(exc, Forbidden) else 400
        else:
            messages.success(
                request,
                f"{grant.user.get_full_name() or grant.user.username} is no longer {Role(grant.role).label}.",
            )
            return redirect(_page_of(scope))
    return render_consumer(
        request,
        "web/consumer/team_remove.html",
        {
            "scope": scope,
            "grant": grant,
            "role": Role(grant.role).label,
            "error": error,
            "back": _page_of(scope),
        },
        section="structure",
        status=status,
    )


@login_required
@require_POST
def organisation_team_add(request: HttpRequest, uuid: str) -> HttpResponse:
    return _team_add(request, _customer(request, uuid))


@login_required
@require_POST
def project_team_add(request: HttpRequest, uuid: str) -> HttpResponse:
    return _team_add(request, _project(request, uuid))


@login_required
@require_http_methods(["GET", "POST"])
def organisation_team_remove(request: HttpRequest, uuid: str, grant: str) -> HttpResponse:
    return _team_remove(request, _customer(request, uuid), grant)


@login_required
@require_http_methods(["GET", "POST"])
def project_team_remove(request: HttpRequest, uuid: str, grant: str) -> HttpResponse:
    return _team_remove(request, _project(request, uuid), grant)


def _team_end(request: HttpRequest, scope: Customer | Project, grant_uuid: str) -> HttpResponse:
    """When a role in force ends (empty: no end), through the same service as update_user."""
    grant = _grant(scope, grant_uuid)
    if not services.can_manage_team(request.user, scope):
        raise PermissionDenied("Only those who manage this team may change when a role ends.")
    status = 200
    if request.method == "POST":
        form = RoleEndForm(request.POST)
        status = 400
        if form.is_valid():
            until = form.cleaned_data["expiration_time"]
            try:
                services.update_user_role(
                    scope=scope,
                    user=grant.user,
                    role=Role(grant.role),
                    actor=current_user(request),
                    expiration_time=until,
                )
            except DomainError as error:
                status = _attach(form, error)
            else:
                ending = f"until {until:%Y-%m-%d %H:%M}" if until else "with no end"
                who = grant.user.get_full_name() or grant.user.username
                messages.success(request, f"{who} is {Role(grant.role).label} {ending}.")
                return redirect(_page_of(scope))
    else:
        form = RoleEndForm(initial={"expiration_time": grant.expiration_time})
    return render_consumer(
        request,
        "web/consumer/team_end.html",
        {
            "scope": scope,
            "grant": grant,
            "role": Role(grant.role).label,
            "form": form,
            "back": _page_of(scope),
        },
        section="structure",
        status=status,
    )


@login_required
@require_http_methods(["GET", "POST"])
def organisation_team_end(request: HttpRequest, uuid: str, grant: str) -> HttpResponse:
    return _team_end(request, _customer(request, uuid), grant)


@login_required
@require_http_methods(["GET", "POST"])
def project_team_end(request: HttpRequest, uuid: str, grant: str) -> HttpResponse:
    return _team_end(request, _project(request, uuid), grant)
