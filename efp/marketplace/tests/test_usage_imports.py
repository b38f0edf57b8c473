"""Usage from a CSV file with a preview (issue 16, point 5): carol, who owns provider P, imports a month of
usage of alice's allocation; oscar manages the offering; alice only consumes; dave is an outsider."""

from __future__ import annotations

import uuid
from decimal import Decimal
from typing import Any

from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.test import override_settings
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from efp.events.models import Event
from efp.events.tasks import dispatch_events
from efp.marketplace.billing_months import add_months, billing_period_of, month_key
from efp.marketplace.models import ComponentUsage, ComponentUserUsage, OfferingUser, Resource, UsageRevision
from efp.marketplace.services import usage as usage_services
from efp.marketplace.services import usage_imports
from efp.marketplace.services.usage import UsageItem
from efp.marketplace.services.usage_import_file import parse
from efp.marketplace.tests.base import MarketplaceTestCase
from efp.marketplace.tests.factories import make_resource, make_user

URL = "/api/marketplace-usage-imports/"
HEADER = "resource_uuid,component,month,amount,username,reason\n"


class ImportTestCase(MarketplaceTestCase):
    @classmethod
    def setUpTestData(cls) -> None:
        super().setUpTestData()
        cls.resource = make_resource(cls.alice, cls.carol, cls.project_a1, cls.offering, name="alloc")
        cls.current = billing_period_of(timezone.now())
        cls.last = add_months(cls.current, -1)
        cls.this_month, cls.last_month = month_key(cls.current), month_key(cls.last)
        [cls.cpu] = usage_services.set_usage(
            user=cls.carol, resource=cls.resource, usages=[UsageItem(type="cpu", amount=Decimal("10"))]
        )
        OfferingUser.objects.create(offering=cls.offering, user=cls.bob, username="bob.k")

    def csv(self, *rows: str, header: str = HEADER) -> bytes:
        return (header + "".join(f"{row}\n" for row in rows)).encode()

    def line(
        self, component: str, amount: str, *, month: str = "", username: str = "", reason: str = ""
    ) -> str:
        return f"{self.resource.uuid.hex},{component},{month or self.this_month},{amount},{username},{reason}"

    def post(self, user: Any, content: bytes, dry_run: Any = None, name: str = "usage.csv") -> Any:
        data: dict[str, Any] = {"file": SimpleUploadedFile(name, content, content_type="text/csv")}
        if dry_run is not None:
            data["dry_run"] = dry_run
        return self.as_user(user).post(URL, data, format="multipart")

    def snapshot(self) -> tuple[Any, ...]:
        return (
            sorted(ComponentUsage.objects.values_list("component__type", "billing_period", "usage")),
            sorted(ComponentUserUsage.objects.values_list("username", "usage")),
            UsageRevision.objects.count(),
            Event.objects.count(),
        )


class ParserTests(ImportTestCase):
    def test_it_refuses_files_that_are_not_usage_csvs(self) -> None:
        cases = {
            b"": "empty",
            b"\xff\xfe\x00garbage": "UTF-8",
            b"resource_uuid,component,month\nx,y,z\n": "Missing column(s): amount",
            b"resource_uuid,component,month,amount,colour\n": "Unknown column(s): colour",
            b"resource_uuid,component,month,amount\n": "no lines",
        }
        for content, words in cases.items():
            response = self.post(self.carol, content)
            assert response.status_code == 400, (content, response.content)
            body = response.json()
            if content:
                assert words in body["file"][0], (words, body)
            else:
                assert "file" in body

    def test_it_explains_each_bad_line(self) -> None:
        lines = parse(
            self.csv(
                "not-a-uuid,cpu,2026-01,1,,",
                f"{self.resource.uuid.hex},cpu,2026-13,1,,",
                f"{self.resource.uuid.hex},cpu,{self.this_month},-1,,",
                f"{self.resource.uuid.hex},cpu,{self.this_month},abc,,",
                f"{self.resource.uuid.hex},cpu,{self.this_month},1.005,,",
                f"{self.resource.uuid.hex},gpu,{self.this_month},1,,",
                f"{self.resource.uuid.hex},gpu,{self.this_month},2,,",
                f"{self.resource.uuid.hex},gpu,{self.this_month},2,,,extra",
                f'{self.resource.uuid.hex},gpu,{self.this_month},2,"a\tb",',
            )
        )
        assert [line.line for line in lines] == [2, 3, 4, 5, 6, 7, 8, 9, 10]
        errors = [" ".join(line.errors) for line in lines]
        assert "not a valid UUID" in errors[0]
        assert "'2026-13' is not a month as YYYY-MM" in errors[1]
        assert "greater than or equal to 0" in errors[2]
        assert "A valid number is required" in errors[3]
        assert "no more than 2 decimal places" in errors[4]
        assert errors[5] == ""
        assert errors[6] == "Duplicate of line 7."
        assert "7 values; the header names 6 columns" in errors[7]
        assert errors[8].startswith("username: ")

    def test_it_reads_columns_in_any_order_without_the_optional_ones(self) -> None:
        # A spreadsheet's trailing empty column is ignored.
        content = f"amount,month,component,resource_uuid,\n5,{self.this_month},gpu,{self.resource.uuid},\n"
        [line] = parse(content.encode())
        assert (line.errors, line.component, line.value, line.username) == ([], "gpu", Decimal("5.00"), "")


class PreviewTests(ImportTestCase):
    def test_it_previews_every_outcome_and_writes_nothing(self) -> None:
        before = self.snapshot()
        content = self.csv(
            self.line("cpu", "12.5"),  # changed 10 → 12.50
            self.line("gpu", "3"),  # new
            self.line("storage", "10", month=self.this_month),  # new (limit component)
            self.line("support", "1"),  # fixed: not reported
            self.line("cpu", "2", username="bob.k"),  # new user row
            self.line("cpu", "2", username="nobody"),
        )
        response = self.post(self.carol, content)
        assert response.status_code == 200, response.content
        body = response.json()
        assert body["summary"] == {"new": 3, "changed": 1, "unchanged": 0, "error": 2, "total": 6}
        assert body["dry_run"] is True and body["applied"] is False
        first = body["lines"][0]
        assert first == {
            "line": 2,
            "resource_uuid": self.resource.uuid.hex,
            "component": "cpu",
            "month": self.this_month,
            "username": "",
            "outcome": "changed",
            "old_amount": "10.00",
            "new_amount": "12.50",
            "error": "",
        }
        assert [line["outcome"] for line in body["lines"]] == [
            "changed",
            "new",
            "new",
            "error",
            "new",
            "error",
        ]
        assert "'support' is not a usage-reported component" in body["lines"][3]["error"]
        assert "'nobody' is not known to this resource" in body["lines"][5]["error"]
        assert self.snapshot() == before

    def test_it_says_unchanged_for_the_same_value(self) -> None:
        body = self.post(self.carol, self.csv(self.line("cpu", "10.00"))).json()
        assert body["lines"][0]["outcome"] == "unchanged"

    def test_it_refuses_future_months(self) -> None:
        future = month_key(add_months(self.current, 1))
        body = self.post(self.carol, self.csv(self.line("cpu", "1", month=future))).json()
        assert body["lines"][0]["error"] == usage_imports.MSG_FUTURE

    def test_it_refuses_a_current_month_of_a_resource_that_takes_no_reports(self) -> None:
        Resource.objects.filter(pk=self.resource.pk).update(state="Terminated")
        body = self.post(self.carol, self.csv(self.line("cpu", "1"))).json()
        assert body["lines"][0]["error"] == usage_services.MSG_INVALID_STATE


class ClosedMonthTests(ImportTestCase):
    def test_a_closed_month_needs_a_reason(self) -> None:
        body = self.post(self.carol, self.csv(self.line("cpu", "4", month=self.last_month))).json()
        assert (
            body["lines"][0]["error"]
            == f"{self.last_month} is closed: a correction needs a reason (the reason column)."
        )

    def test_a_closed_month_with_a_reason_is_a_correction_of_those_who_may_correct(self) -> None:
        content = self.csv(self.line("cpu", "4", month=self.last_month, reason="meter fixed"))
        for user in (self.carol, self.oscar, self.staff):
            body = self.post(user, content).json()
            assert body["lines"][0]["outcome"] == "new", (user, body)

    def test_the_offering_says_who_corrects_and_how_far_back(self) -> None:
        self.offering.usage_corrected_by = "owners"
        self.offering.save(update_fields=["usage_corrected_by"])
        content = self.csv(self.line("cpu", "4", month=self.last_month, reason="meter fixed"))
        body = self.post(self.oscar, content).json()
        assert body["lines"][0]["error"].startswith("Closed months of Offering O may be corrected by")
        old = month_key(add_months(self.current, -5))
        body = self.post(self.carol, self.csv(self.line("cpu", "4", month=old, reason="late"))).json()
        assert "may be corrected back to" in body["lines"][0]["error"]
        assert (
            self.post(self.staff, self.csv(self.line("cpu", "4", month=old, reason="late"))).json()["lines"][
                0
            ]["outcome"]
            == "new"
        )


class PermissionTests(ImportTestCase):
    def test_only_those_who_report_usage_may_import_it(self) -> None:
        content = self.csv(self.line("gpu", "3"))
        for user, error in (
            (self.carol, ""),
            (self.oscar, ""),
            (self.staff, ""),
            (self.alice, usage_imports.MSG_MAY_NOT_REPORT),
            (self.bob, usage_imports.MSG_MAY_NOT_REPORT),
            (self.dave, usage_imports.MSG_NOT_FOUND),
        ):
            response = self.post(user, content)
            assert response.status_code == 200, (user, response.content)
            assert response.json()["lines"][0]["error"] == error, user

    def test_an_unknown_resource_is_not_found(self) -> None:
        content = self.csv(f"{uuid.uuid4().hex},cpu,{self.this_month},1,,")
        assert self.post(self.carol, content).json()["lines"][0]["error"] == usage_imports.MSG_NOT_FOUND

    def test_anonymous_is_refused(self) -> None:
        assert self.post(None, self.csv(self.line("gpu", "3"))).status_code == 401
        assert self.as_user(None).get(f"{URL}template/").status_code == 401


class ApplyTests(ImportTestCase):
    def test_it_applies_every_line_with_revisions_and_events(self) -> None:
        events_before = Event.objects.count()
        content = self.csv(
            self.line("cpu", "12.5"),
            self.line("gpu", "3"),
            self.line("cpu", "2", username="bob.k"),
            self.line("cpu", "7", month=self.last_month, reason="meter fixed"),
            self.line("gpu", "5", month=self.last_month, username="bob.k", reason="late user"),
        )
        response = self.post(self.carol, content, dry_run="false")
        assert response.status_code == 200, response.content
        assert response.json()["applied"] is True
        values = dict(
            ((u.component.type, u.billing_period), u.usage)
            for u in ComponentUsage.objects.filter(resource=self.resource).select_related("component")
        )
        assert values == {
            ("cpu", self.current): Decimal("12.50"),
            ("gpu", self.current): Decimal("3.00"),
            ("cpu", self.last): Decimal("7.00"),
            ("gpu", self.last): Decimal("5.00"),  # a new month takes the sum of its users
        }
        rows = ComponentUserUsage.objects.order_by("component_usage__billing_period")
        assert [(r.username, r.usage, r.user) for r in rows] == [
            ("bob.k", Decimal("5.00"), self.bob),
            ("bob.k", Decimal("2.00"), self.bob),
        ]
        imported = UsageRevision.objects.filter(verb=UsageRevision.Verb.IMPORT)
        assert sorted(
            ((r.username, r.old_value, r.new_value, r.reason) for r in imported), key=str
        ) == sorted(
            [
                ("", Decimal("10.00"), Decimal("12.50"), ""),
                ("", None, Decimal("3.00"), ""),
                ("bob.k", None, Decimal("2.00"), ""),
                ("", None, Decimal("7.00"), "meter fixed"),
                ("bob.k", None, Decimal("5.00"), "late user"),
                ("", None, Decimal("5.00"), "late user"),
            ],
            key=str,
        )
        assert {r.actor for r in imported} == {self.carol}
        imported_events = Event.objects.order_by("pk")[events_before:]
        assert len(imported_events) == 6
        reasons = sorted(event.context.get("reason", "") for event in imported_events)
        assert reasons == ["", "", "", "late user", "late user", "meter fixed"]
        # Their dispatch (hooks, notifications) runs in batches named by uuid.
        assert dispatch_events.call([event.uuid.hex for event in imported_events]) == 6
        self.resource.refresh_from_db()
        assert self.resource.current_usages == {"cpu": 12.5, "gpu": 3.0}
        # Applying the same file again changes nothing.
        again = self.post(self.carol, content, dry_run="false").json()
        assert again["summary"]["unchanged"] == 5

    def test_one_line_in_error_writes_nothing(self) -> None:
        before = self.snapshot()
        content = self.csv(self.line("cpu", "12.5"), self.line("cpu", "4", month=self.last_month))
        response = self.post(self.carol, content, dry_run="false")
        assert response.status_code == 400, response.content
        body = response.json()
        assert body["file"] == ["1 line(s) are in error; nothing was imported."]
        assert [line["outcome"] for line in body["lines"]] == ["changed", "error"]
        assert body["applied"] is False
        assert self.snapshot() == before

    def test_refused_personas_write_nothing(self) -> None:
        before = self.snapshot()
        for user in (self.alice, self.dave):
            assert self.post(user, self.csv(self.line("gpu", "3")), dry_run="false").status_code == 400
        assert self.snapshot() == before


class LimitsAndTemplateTests(ImportTestCase):
    @override_settings(EFP_MAX_IMPORT_BYTES=100)
    def test_a_file_over_the_limit_is_413(self) -> None:
        response = self.post(self.carol, self.csv(*[self.line("cpu", str(n)) for n in range(10)]))
        assert response.status_code == 413
        assert "limit is 100 bytes" in response.json()["detail"]

    @override_settings(EFP_MAX_REQUEST_BYTES=1000, DATA_UPLOAD_MAX_MEMORY_SIZE=1000)
    def test_the_import_route_takes_files_over_the_request_limit(self) -> None:
        content = self.csv(*[self.line("cpu", "10", username=f"u{n}") for n in range(40)])
        assert len(content) > 1000
        assert self.post(self.carol, content).status_code == 200
        response = self.as_user(self.carol).post(
            "/api/marketplace-component-usages/set_usage/", {"x": "y" * 2000}, format="json"
        )
        assert response.status_code == 413

    def test_the_template_names_my_resources_and_previews_cleanly(self) -> None:
        response = self.as_user(self.carol).get(f"{URL}template/")
        assert response.status_code == 200
        assert response["Content-Type"].startswith("text/csv")
        text = response.content.decode()
        assert text.splitlines()[0] == "resource_uuid,component,month,amount,username,reason"
        assert self.resource.uuid.hex in text
        body = self.post(self.carol, text.encode()).json()
        assert body["summary"]["error"] == 0, body

    def test_the_template_of_someone_without_resources_has_a_placeholder(self) -> None:
        text = self.as_user(self.dave).get(f"{URL}template/").content.decode()
        assert self.resource.uuid.hex not in text
        assert "<resource uuid>" in text


class QueryCountTests(ImportTestCase):
    @classmethod
    def setUpTestData(cls) -> None:
        super().setUpTestData()
        cls.others = [
            make_resource(cls.alice, cls.carol, cls.project_a1, cls.offering, name=f"alloc {n}")
            for n in range(4)
        ]
        for n in range(20):
            OfferingUser.objects.create(offering=cls.offering, user=make_user(f"member{n}"), username=f"m{n}")

    def lines(self, count: int) -> bytes:
        """`count` different lines over five resources, two components, two months and 21 usernames."""
        rows = []
        resources = [self.resource, *self.others]
        keys = [
            (resource, component, month, username)
            for resource in resources
            for component in ("cpu", "gpu")
            for username in ["", *[f"m{n}" for n in range(20)]]
            for month in (self.this_month, self.last_month)
        ]
        for n, (resource, component, month, username) in enumerate(keys[:count]):
            rows.append(f"{resource.uuid.hex},{component},{month},{n},{username},fix")
        return self.csv(*rows)

    def count(self, content: bytes) -> int:
        with CaptureQueriesContext(connection) as captured:
            plan = usage_imports.import_usage(user=self.oscar, content=content)
        assert plan.summary["error"] == 0, [line.error for line in plan.lines if line.error]
        return len(captured.captured_queries)

    def test_the_preview_reads_the_same_number_of_times_for_10_or_200_lines(self) -> None:
        assert self.count(self.lines(10)) == self.count(self.lines(200))
