"""The admin is read-only for usage, limits, states, roles and history (docs/architecture.md, "History").

Each test submits what a browser would (the change form as rendered, every field and inline row), with
the protected fields changed, as a superuser; the database must keep them. Where the form may still be
saved, another field is changed too, so the test proves the form was saved and only the protected part
was not."""

from __future__ import annotations

from decimal import Decimal
from html.parser import HTMLParser
from typing import Any

from django.test import Client
from django.urls import reverse

from efp.marketplace.models import (
    ComponentUserUsage,
    OfferingRole,
    OrderEvent,
    ResourceEvent,
    Tombstone,
    UsageRevision,
)
from efp.marketplace.services import orders as order_services
from efp.marketplace.tests.test_history import HistoryTestCase, history
from efp.structure.models import CustomerRole, ProjectRole


class FormParser(HTMLParser):
    """The fields a browser would submit from the page's change form."""

    def __init__(self) -> None:
        super().__init__()
        self.data: dict[str, Any] = {}
        self.select: str | None = None
        self.textarea: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        name = a.get("name")
        if tag == "input" and name and a.get("type") not in ("submit", "button", "file"):
            if a.get("type") in ("checkbox", "radio"):
                if "checked" in a:
                    self.data[name] = a.get("value") or "on"
            else:
                self.data[name] = a.get("value") or ""
        elif tag == "select" and name:
            self.select = name
            self.data.setdefault(name, "")
        elif tag == "option" and self.select and "selected" in a:
            self.data[self.select] = a.get("value") or ""
        elif tag == "textarea" and name:
            self.textarea = name
            self.data[name] = ""

    def handle_endtag(self, tag: str) -> None:
        if tag == "select":
            self.select = None
        elif tag == "textarea":
            self.textarea = None

    def handle_data(self, data: str) -> None:
        if self.textarea:
            self.data[self.textarea] += data.removeprefix("\n") if not self.data[self.textarea] else data


class AdminTestCase(HistoryTestCase):
    def setUp(self) -> None:
        super().setUp()
        self.admin = Client()
        self.admin.force_login(self.root)

    def change_url(self, obj: Any) -> str:
        meta = obj._meta
        return reverse(f"admin:{meta.app_label}_{meta.model_name}_change", args=[obj.pk])

    def form_of(self, obj: Any) -> dict[str, Any]:
        response = self.admin.get(self.change_url(obj))
        assert response.status_code == 200, response.content
        parser = FormParser()
        parser.feed(response.content.decode())
        return parser.data

    def save(self, obj: Any, **changes: Any) -> Any:
        data = {**self.form_of(obj), **changes, "_save": "Save"}
        return self.admin.post(self.change_url(obj), data)


class OrderAndResourceAdminTests(AdminTestCase):
    def test_it_saves_an_order_without_its_state_or_limits(self) -> None:
        response = self.save(
            self.waiting, state="done", limits='{"storage": 99}', request_comment="noted by staff"
        )
        assert response.status_code == 302, response.content
        self.waiting.refresh_from_db()
        assert (self.waiting.state, self.waiting.limits) == ("pending-provider", {"storage": 10})
        assert self.waiting.request_comment == "noted by staff"
        self.assert_history_kept()

    def test_it_saves_a_resource_without_its_state_limits_or_usages(self) -> None:
        response = self.save(
            self.allocation,
            state="erred",
            limits='{"storage": 99}',
            current_usages='{"cpu": 0}',
            description="noted by staff",
        )
        assert response.status_code == 302, response.content
        self.allocation.refresh_from_db()
        assert (self.allocation.state, self.allocation.limits) == ("OK", {"storage": 10})
        assert self.allocation.current_usages == {"cpu": 7.0}
        assert self.allocation.description == "noted by staff"
        self.assert_history_kept()

    def test_it_keeps_the_event_rows_inlined_on_the_order_and_the_resource(self) -> None:
        for obj, prefix in ((self.waiting, "events"), (self.allocation, "events")):
            form = self.form_of(obj)
            event_id = obj.events.order_by("pk").first().pk
            rows = {
                f"{prefix}-0-id": str(event_id),
                f"{prefix}-0-reason": "rewritten",
                f"{prefix}-0-DELETE": "on",
            }
            response = self.admin.post(self.change_url(obj), {**form, **rows, "_save": "Save"})
            assert response.status_code == 302, response.content
        self.assert_history_kept()

    def test_it_deletes_no_order_resource_organisation_project_or_user(self) -> None:
        for obj in (self.waiting, self.allocation, self.org_a, self.project_a1, self.carol, self.dave):
            meta = obj._meta
            url = reverse(f"admin:{meta.app_label}_{meta.model_name}_delete", args=[obj.pk])
            response = self.admin.post(url, {"post": "yes"})
            assert response.status_code == 403, (meta.model_name, response.status_code)
            assert type(obj).objects.filter(pk=obj.pk).exists()
            changelist = reverse(f"admin:{meta.app_label}_{meta.model_name}_changelist")
            self.admin.post(
                changelist, {"action": "delete_selected", "_selected_action": [obj.pk], "post": "yes"}
            )
            assert type(obj).objects.filter(pk=obj.pk).exists()
        self.assert_history_kept()


class ViewOnlyAdminTests(AdminTestCase):
    def test_it_refuses_to_change_or_delete_usage_and_history(self) -> None:
        order_services.delete_order(order=self.waiting, user=self.alice)  # a tombstone too
        self.before = history()
        share = ComponentUserUsage.objects.get()
        rows = [
            (self.cpu, {"usage": "1"}),
            (share, {"usage": "1"}),
            (UsageRevision.objects.first(), {"new_value": "1"}),
            (OrderEvent.objects.first(), {"reason": "rewritten"}),
            (ResourceEvent.objects.first(), {"reason": "rewritten"}),
            (Tombstone.objects.first(), {"reason": "rewritten"}),
        ]
        for obj, changes in rows:
            meta = obj._meta
            if meta.model_name != "componentuserusage":  # an inline of its usage record, no page of its own
                assert self.admin.post(self.change_url(obj), changes).status_code == 403, meta.model_name
                url = reverse(f"admin:{meta.app_label}_{meta.model_name}_delete", args=[obj.pk])
                assert self.admin.post(url, {"post": "yes"}).status_code == 403, meta.model_name
        self.cpu.refresh_from_db()
        share.refresh_from_db()
        assert (self.cpu.usage, share.usage) == (Decimal(7), Decimal(3))
        self.assert_history_kept()


class RoleInlineAdminTests(AdminTestCase):
    """Teams change through efp/structure/services.py (the last owner stays), not in the admin."""

    def assert_roles_kept_when_saved(self, obj: Any, prefix: str, grants: Any, **renamed: str) -> None:
        before = sorted(grants.values_list("pk", "user_id", "role", "created"))
        assert before, "there must be roles to protect"
        form = self.form_of(obj)
        total = int(form[f"{prefix}-TOTAL_FORMS"])
        form.update({f"{prefix}-{i}-DELETE": "on" for i in range(total)})
        form.update({f"{prefix}-{total}-user": str(self.dave.pk), f"{prefix}-{total}-role": before[0][2]})
        form[f"{prefix}-TOTAL_FORMS"] = str(total + 1)
        response = self.admin.post(self.change_url(obj), {**form, **renamed, "_save": "Save"})
        assert response.status_code == 302, response.content
        assert sorted(grants.values_list("pk", "user_id", "role", "created")) == before
        obj.refresh_from_db()
        assert all(getattr(obj, key) == value for key, value in renamed.items())

    def test_it_keeps_organisation_roles(self) -> None:
        grants = CustomerRole.all_objects.filter(customer=self.org_a)
        self.assert_roles_kept_when_saved(self.org_a, "roles", grants, abbreviation="OA")

    def test_it_keeps_project_roles(self) -> None:
        grants = ProjectRole.all_objects.filter(project=self.project_a1)
        self.assert_roles_kept_when_saved(self.project_a1, "roles", grants, description="renamed")

    def test_it_keeps_offering_roles(self) -> None:
        grants = OfferingRole.objects.filter(offering=self.offering)
        self.assert_roles_kept_when_saved(self.offering, "roles", grants, description="renamed")
