"""Organisation and project changes: the projects of an organisation and the teams of both.

Verbs that take an acting `user` check its permission (Forbidden → 403) and the input (InvalidInput → 400);
the plain builders without one (`create_customer`, `create_project` without `user`, `grant_*_role`) serve the
demo, the admin and tests.
"""

from __future__ import annotations

import datetime
from typing import Any

from django.apps import apps
from django.db import transaction
from django.utils import timezone
from django.utils.text import slugify

from efp.errors import Forbidden, InvalidInput
from efp.structure.events import record_team_role_event
from efp.structure.models import Customer, CustomerRole, Project, ProjectRole, RoleGrant
from efp.structure.names import first_free
from efp.structure.permissions import has_permission
from efp.structure.roles import CUSTOMER_ROLES, PROJECT_ROLES, Permission, Role


def unique_slug(model: Any, text: str) -> str:
    """`text` slugified, with `-2`, `-3`, ... appended when taken (one query)."""
    base = (slugify(text) or "x")[:90]
    taken = set(model.objects.filter(slug__startswith=base).values_list("slug", flat=True))
    return first_free(base, taken, "-")


@transaction.atomic
def create_customer(*, name: str, abbreviation: str = "", email: str = "", country: str = "") -> Customer:
    return Customer.objects.create(
        name=name, slug=unique_slug(Customer, name), abbreviation=abbreviation, email=email, country=country
    )


def _resources() -> Any:
    """The resources (marketplace): they keep their organisation's and project's names as a sort key
    (`Resource.sort_names`), rewritten here with the names, in the rename's transaction."""
    return apps.get_model("marketplace", "Resource").objects


def _require(allowed: bool) -> None:
    if not allowed:
        raise Forbidden()


def _check_customer_usable(customer: Customer) -> None:
    if customer.blocked:
        raise InvalidInput("Blocked organization is not available.")
    if customer.archived:
        raise InvalidInput("Archived organization is not available.")


def _check_dates(start_date: datetime.date | None, end_date: datetime.date | None) -> None:
    if start_date is not None and end_date is not None and end_date < start_date:
        raise InvalidInput({"end_date": ["The end date must not be before the start date."]})


@transaction.atomic
def update_customer(*, customer: Customer, user: Any, **changes: Any) -> Customer:
    """Staff edit an organisation, including blocking and archiving it."""
    _require(bool(user.is_staff))
    allowed = {"name", "abbreviation", "native_name", "email", "country", "blocked", "archived"}
    unknown = set(changes) - allowed
    if unknown:
        raise InvalidInput({key: ["This field cannot be changed."] for key in sorted(unknown)})
    for key, value in changes.items():
        setattr(customer, key, value)
    customer.save(update_fields=list(changes) or None)
    if "name" in changes:
        _resources().filter(project__customer=customer).update(sort_customer_name=customer.name)
    return customer


@transaction.atomic
def create_project(
    *,
    customer: Customer,
    name: str,
    description: str = "",
    start_date: datetime.date | None = None,
    end_date: datetime.date | None = None,
    user: Any = None,
) -> Project:
    """With `user`: an owner of the organisation (or staff) creates it in a usable organisation."""
    if user is not None:
        _require(has_permission(user, Permission.PROJECT_CREATE, customers=[customer]))
        _check_customer_usable(customer)
        if not name.strip():
            raise InvalidInput({"name": ["This field may not be blank."]})
    _check_dates(start_date, end_date)
    return Project.objects.create(
        customer=customer,
        name=name,
        slug=unique_slug(Project, name),
        description=description,
        start_date=start_date,
        end_date=end_date,
    )


@transaction.atomic
def grant_customer_role(*, customer: Customer, user: Any, role: Role, actor: Any = None) -> CustomerRole:
    if role not in CUSTOMER_ROLES:
        raise ValueError(f"{role} is not an organisation role")
    return _grant_for_good(CustomerRole, customer, user, role, actor)


@transaction.atomic
def grant_project_role(*, project: Project, user: Any, role: Role, actor: Any = None) -> ProjectRole:
    if role not in PROJECT_ROLES:
        raise ValueError(f"{role} is not a project role")
    return _grant_for_good(ProjectRole, project, user, role, actor)


def _grant_for_good(model: Any, scope: Scope, user: Any, role: Role, actor: Any) -> Any:
    """The role with no end: granted (`role_granted`), renewed if it had expired, or its end removed
    (`role_updated`); a role already held for good writes nothing."""
    _, where, _ = _team(scope)
    grant, created = model.all_objects.get_or_create(
        user=user, role=role, defaults={"expiration_time": None}, **where
    )
    if not created and grant.expiration_time is None:
        return grant
    event = "role_granted"
    if not created:
        event = "role_updated" if grant.expiration_time > timezone.now() else "role_granted"
        grant.expiration_time = None
        grant.save(update_fields=["expiration_time"])
    record_team_role_event(event, scope=scope, holder=user, role=role, actor=actor)
    return grant


PROJECT_FIELDS = {
    "name",
    "description",
    "start_date",
    "end_date",
    "oecd_fos_2007_code",
    "is_industry",
    "type",
}


@transaction.atomic
def update_project(*, project: Project, user: Any, **changes: Any) -> Project:
    """An owner of the project's organisation (or staff) edits it; a new end date records who set it."""
    _require(has_permission(user, Permission.PROJECT_UPDATE, customers=[project.customer]))
    unknown = set(changes) - PROJECT_FIELDS - ({"backend_id"} if user.is_staff else set())
    if unknown:
        raise InvalidInput({key: ["This field cannot be changed."] for key in sorted(unknown)})
    if "name" in changes and not str(changes["name"]).strip():
        raise InvalidInput({"name": ["This field may not be blank."]})
    _check_dates(changes.get("start_date", project.start_date), changes.get("end_date", project.end_date))
    fields = dict(changes)
    if "end_date" in changes and changes["end_date"] != project.end_date:
        fields["end_date_requested_by"] = user
    for key, value in fields.items():
        setattr(project, key, value)
    project.save(update_fields=list(fields) or None)
    if "name" in changes:
        _resources().filter(project=project).update(sort_project_name=project.name)
    return project


@transaction.atomic
def remove_project(*, project: Project, user: Any = None) -> Project:
    """Soft delete: the project disappears from lists; its orders and resources stay."""
    if user is not None:
        _require(has_permission(user, Permission.PROJECT_DELETE, customers=[project.customer]))
    Project.objects.filter(pk=project.pk).update(is_removed=True)
    project.refresh_from_db()
    return project


# --- teams ----------------------------------------------------------------------------------------

Scope = Customer | Project


def _team(scope: Scope) -> tuple[Any, dict[str, Any], tuple[Role, ...]]:
    """The role model, the filter naming the scope, and the roles the scope takes."""
    if isinstance(scope, Customer):
        return CustomerRole, {"customer": scope}, CUSTOMER_ROLES
    return ProjectRole, {"project": scope}, PROJECT_ROLES


def can_manage_team(user: Any, scope: Scope) -> bool:
    if isinstance(scope, Customer):
        return has_permission(user, Permission.CUSTOMER_MANAGE_TEAM, customers=[scope])
    return has_permission(user, Permission.PROJECT_MANAGE_TEAM, projects=[scope], customers=[scope.customer])


def _check_role(scope: Scope, role: Role | None) -> Role:
    _, _, roles = _team(scope)
    if role is None or role not in roles:
        names = ", ".join(r.value for r in roles)
        kind = "an organisation" if isinstance(scope, Customer) else "a project"
        raise InvalidInput({"role": [f"Choose a role of {kind}: {names}."]})
    return role


def _check_expiration(expiration_time: datetime.datetime | None) -> None:
    if expiration_time is not None and expiration_time <= timezone.now():
        raise InvalidInput({"expiration_time": ["The expiration time must be in the future."]})


def _guard_team_change(scope: Scope, actor: Any, role: Role | None) -> Role:
    _require(can_manage_team(actor, scope))
    if isinstance(scope, Project) and scope.is_removed:
        raise InvalidInput("The project is removed.")
    return _check_role(scope, role)


@transaction.atomic
def add_user_role(
    *,
    scope: Scope,
    user: Any,
    role: Role | None,
    actor: Any,
    expiration_time: datetime.datetime | None = None,
) -> RoleGrant:
    """Grants `role` in `scope` to `user` until `expiration_time` (None = no end). An expired grant of the
    same role is renewed; a role in force gives 400."""
    role = _guard_team_change(scope, actor, role)
    _check_expiration(expiration_time)
    model, where, _ = _team(scope)
    existing = model.all_objects.select_for_update().filter(user=user, role=role, **where).first()
    if existing is not None and model.objects.filter(pk=existing.pk).exists():
        raise InvalidInput("User already has role within this scope.")
    if existing is not None:
        existing.expiration_time = expiration_time
        existing.created_by = actor
        existing.created = timezone.now()
        existing.save(update_fields=["expiration_time", "created_by", "created"])
        grant: RoleGrant = existing
    else:
        grant = model.objects.create(
            user=user, role=role, created_by=actor, expiration_time=expiration_time, **where
        )
    record_team_role_event(
        "role_granted", scope=scope, holder=user, role=role, actor=actor, expiration_time=expiration_time
    )
    return grant


def _grant_in_force(scope: Scope, user: Any, role: Role) -> RoleGrant:
    model, where, _ = _team(scope)
    grant = model.objects.select_for_update().filter(user=user, role=role, **where).first()
    if grant is None:
        raise InvalidInput("User does not have this role within this scope.")
    return grant


@transaction.atomic
def update_user_role(
    *, scope: Scope, user: Any, role: Role | None, actor: Any, expiration_time: datetime.datetime | None
) -> RoleGrant:
    """Moves the end of a role in force (None = no end)."""
    role = _guard_team_change(scope, actor, role)
    _check_expiration(expiration_time)
    grant = _grant_in_force(scope, user, role)
    grant.expiration_time = expiration_time
    grant.save(update_fields=["expiration_time"])
    record_team_role_event(
        "role_updated", scope=scope, holder=user, role=role, actor=actor, expiration_time=expiration_time
    )
    return grant


@transaction.atomic
def delete_user_role(*, scope: Scope, user: Any, role: Role | None, actor: Any) -> None:
    """Revokes a role; the last owner of an organisation stays (someone must be able to manage it)."""
    role = _guard_team_change(scope, actor, role)
    grant = _grant_in_force(scope, user, role)
    if role == Role.CUSTOMER_OWNER:
        owners = CustomerRole.objects.select_for_update().filter(customer=scope, role=Role.CUSTOMER_OWNER)
        if owners.count() <= 1:
            raise InvalidInput("An organisation needs at least one owner: add another owner first.")
    model, _, _ = _team(scope)
    model.all_objects.filter(pk=grant.pk).delete()
    record_team_role_event("role_revoked", scope=scope, holder=user, role=role, actor=actor)
