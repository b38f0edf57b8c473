"""`correct/`, `revisions/`, the users' sum on component usages and the offering's correction policy."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from efp.marketplace.models import ComponentUsage, ComponentUserUsage, Offering, UsageRevision
from efp.marketplace.services import user_usage as user_usage_services
from efp.marketplace.services.usage import UserUsageItem
from efp.marketplace.tests.test_corrections import CorrectionTestCase

USAGES = "/api/marketplace-component-usages/"


class CorrectApiTests(CorrectionTestCase):
    def post(self, user: Any, usage: ComponentUsage, data: Any) -> Any:
        return self.as_user(user).post(f"{USAGES}{usage.uuid.hex}/correct/", data, format="json")

    def test_it_answers_the_usage_record(self) -> None:
        response = self.post(self.carol, self.last_cpu, {"usage": "12.50", "reason": "Counted twice"})
        assert response.status_code == 200, response.content
        detail = self.as_user(self.carol).get(f"{USAGES}{self.last_cpu.uuid.hex}/").json()
        assert response.json() == detail
        assert detail["usage"] == "12.50"
        assert self.value(self.last_cpu) == Decimal("12.50")

    def test_it_refuses_a_missing_or_blank_reason(self) -> None:
        for data in ({"usage": "1"}, {"usage": "1", "reason": "  "}):
            response = self.post(self.carol, self.last_cpu, data)
            assert response.status_code == 400
            assert list(response.json()) == ["reason"]
        assert self.value(self.last_cpu) == Decimal("763.45")

    def test_it_refuses_a_bad_usage(self) -> None:
        for usage in ("-1", "abc", None):
            response = self.post(self.carol, self.last_cpu, {"usage": usage, "reason": "x"})
            assert response.status_code == 400 and list(response.json()) == ["usage"], response.content
        assert self.value(self.last_cpu) == Decimal("763.45")

    def test_it_refuses_consumers_and_hides_from_outsiders(self) -> None:
        for user in (self.alice, self.bob, self.erin):
            assert self.post(user, self.last_cpu, {"usage": "1", "reason": "x"}).status_code == 403
        assert self.post(self.dave, self.last_cpu, {"usage": "1", "reason": "x"}).status_code == 404
        assert self.post(None, self.last_cpu, {"usage": "1", "reason": "x"}).status_code == 401
        response = self.post(self.carol, self.old_cpu, {"usage": "1", "reason": "x"})
        assert response.status_code == 403 and "corrected back to" in response.json()["detail"]
        assert self.value(self.last_cpu) == Decimal("763.45")
        assert self.value(self.old_cpu) == Decimal("20.00")

    def test_it_corrects_once_for_a_retry_with_the_same_idempotency_key(self) -> None:
        url = f"{USAGES}{self.last_cpu.uuid.hex}/correct/"
        body = {"usage": "12.50", "reason": "Counted twice"}
        client = self.as_user(self.carol)
        first = client.post(url, body, format="json", headers={"Idempotency-Key": "fix-1"})
        again = client.post(url, body, format="json", headers={"Idempotency-Key": "fix-1"})
        assert first.status_code == again.status_code == 200
        assert again.json() == first.json() and again["Idempotent-Replayed"] == "true"
        corrections = UsageRevision.objects.filter(
            component_usage=self.last_cpu, verb=UsageRevision.Verb.CORRECT
        )
        assert corrections.count() == 1
        other = client.post(url, {**body, "usage": "13"}, format="json", headers={"Idempotency-Key": "fix-1"})
        assert other.status_code == 422
        assert self.value(self.last_cpu) == Decimal("12.50")


class RevisionsApiTests(CorrectionTestCase):
    def get(self, user: Any, usage: ComponentUsage, query: str = "") -> Any:
        return self.as_user(user).get(f"{USAGES}{usage.uuid.hex}/revisions/{query}")

    def test_it_lists_every_value_with_verb_reason_and_who(self) -> None:
        self.correct(self.carol, self.last_cpu, "12.50", "Counted twice")
        user_usage_services.set_user_usage(
            user=self.carol,
            component_usage=self.last_cpu,
            item=UserUsageItem(username="anna", usage=Decimal(2)),
        )
        response = self.get(self.alice, self.last_cpu)
        assert response.status_code == 200
        assert response["X-Result-Count"] == "3"
        rows = [
            (r["username"], r["old_usage"], r["new_usage"], r["verb"], r["reason"], r["user_username"])
            for r in response.json()
        ]
        assert rows == [
            ("", None, "763.45", "set_usage", "", "staff"),
            ("", "763.45", "12.50", "correct", "Counted twice", "carol"),
            ("anna", None, "2.00", "set_user_usage", "", "carol"),
        ]
        assert {"created", "source"} <= set(response.json()[0])

    def test_it_pages_and_hides_from_outsiders(self) -> None:
        self.correct(self.carol, self.last_cpu, "1")
        response = self.get(self.carol, self.last_cpu, "?page_size=1")
        assert len(response.json()) == 1 and 'rel="next"' in response["Link"]
        assert self.get(self.dave, self.last_cpu).status_code == 404
        assert self.get(None, self.last_cpu).status_code == 401


class UsersUsageFieldTests(CorrectionTestCase):
    def test_it_flags_a_month_whose_users_exceed_its_total(self) -> None:
        ComponentUserUsage.objects.create(
            component_usage=self.last_cpu, username="anna", usage=Decimal("935.05")
        )
        self.correct(self.carol, self.last_cpu, "12.50")
        for query in ("", f"?resource_uuid={self.resource.uuid.hex}", "?o=usage"):  # fast and generic paths
            rows = {r["uuid"]: r for r in self.as_user(self.carol).get(f"{USAGES}{query}").json()}
            last, now = rows[self.last_cpu.uuid.hex], rows[self.now_cpu.uuid.hex]
            assert (last["users_usage"], last["users_exceed_usage"]) == ("935.05", True), query
            assert (now["users_usage"], now["users_exceed_usage"]) == (None, False), query
        detail = self.as_user(self.carol).get(f"{USAGES}{self.last_cpu.uuid.hex}/").json()
        assert (detail["users_usage"], detail["users_exceed_usage"]) == ("935.05", True)


class CorrectionPolicyApiTests(CorrectionTestCase):
    def patch(self, user: Any, data: Any) -> Any:
        url = f"/api/marketplace-provider-offerings/{self.offering.uuid.hex}/"
        return self.as_user(user).patch(url, data, format="json")

    def test_it_is_read_by_all_and_changed_by_the_providers_owners(self) -> None:
        response = self.patch(self.carol, {"usage_corrected_by": "owners", "usage_correction_months": 6})
        assert response.status_code == 200, response.content
        assert (response.json()["usage_corrected_by"], response.json()["usage_correction_months"]) == (
            "owners",
            6,
        )
        self.offering.refresh_from_db()
        assert (self.offering.usage_corrected_by, self.offering.usage_correction_months) == ("owners", 6)
        public = self.as_user(self.alice).get(f"/api/marketplace-public-offerings/{self.offering.uuid.hex}/")
        assert public.json()["usage_correction_months"] == 6

    def test_it_refuses_bad_values_and_other_fields(self) -> None:
        for data in (
            {"usage_corrected_by": "everyone"},
            {"usage_correction_months": -1},
            {"usage_correction_months": "many"},
            {"name": "Renamed"},
        ):
            response = self.patch(self.carol, data)
            assert response.status_code == 400, (data, response.content)
            assert list(response.json()) == list(data)
        self.offering.refresh_from_db()
        assert (self.offering.name, self.offering.usage_corrected_by) == ("Offering O", "owners_and_managers")

    def test_it_refuses_the_offerings_manager_consumers_and_hides_from_outsiders(self) -> None:
        assert self.patch(self.oscar, {"usage_corrected_by": "owners_and_managers"}).status_code == 403
        assert self.patch(self.dave, {"usage_correction_months": 1}).status_code == 404
        assert self.patch(self.alice, {"usage_correction_months": 1}).status_code == 404
        assert self.patch(None, {"usage_correction_months": 1}).status_code == 401
        assert Offering.objects.get(pk=self.offering.pk).usage_correction_months == 3
        assert not UsageRevision.objects.filter(verb="correct").exists()
