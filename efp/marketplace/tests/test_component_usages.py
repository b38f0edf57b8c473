from __future__ import annotations

import datetime
from decimal import Decimal
from typing import Any

import time_machine
from django.test import override_settings
from django.utils import timezone

from efp.marketplace import billing_months
from efp.marketplace.models import ComponentUsage, Plan, Resource, ResourcePlanPeriod, UsageRevision
from efp.marketplace.services import usage as usage_services
from efp.marketplace.services._transitions import transition_resource
from efp.marketplace.states import ResourceState
from efp.marketplace.tests.base import MarketplaceTestCase
from efp.marketplace.tests.factories import make_customer, make_offering, make_resource, make_user
from efp.structure.models import CustomerRole

SET_USAGE = "/api/marketplace-component-usages/set_usage/"


def body(resource: Resource, *usages: tuple[str, str], date: str | None = None) -> dict[str, Any]:
    data: dict[str, Any] = {
        "resource": str(resource.uuid),
        "usages": [{"type": kind, "amount": amount} for kind, amount in usages],
    }
    if date is not None:
        data["date"] = date
    return data


class SetUsageTests(MarketplaceTestCase):
    @classmethod
    def setUpTestData(cls) -> None:
        super().setUpTestData()
        cls.resource = make_resource(cls.alice, cls.carol, cls.project_a1, cls.offering)

    def post(self, user: Any, data: dict[str, Any], **extra: Any) -> Any:
        return self.as_user(user).post(SET_USAGE, data, format="json", **extra)

    def test_it_stores_usage_for_the_current_month(self) -> None:
        response = self.post(self.carol, body(self.resource, ("cpu", "12.5"), ("storage", "3")))
        assert response.status_code == 201, response.content
        usages = {u.component.type: u for u in ComponentUsage.objects.filter(resource=self.resource)}
        assert usages["cpu"].usage == Decimal("12.50")
        assert usages["cpu"].billing_period == billing_months.billing_period_of(timezone.now())
        assert usages["cpu"].modified_by == self.carol
        assert usages["cpu"].plan_period is not None
        self.resource.refresh_from_db()
        assert self.resource.current_usages == {"cpu": 12.5, "storage": 3.0}

    def test_it_takes_the_resource_as_hex_dashed_or_url(self) -> None:
        url = f"http://testserver/api/marketplace-resources/{self.resource.uuid.hex}/"
        for key in (self.resource.uuid.hex, str(self.resource.uuid), url):
            data = {"resource": key, "usages": [{"type": "cpu", "amount": "1"}]}
            assert self.post(self.carol, data).status_code == 201, key
        assert ComponentUsage.objects.filter(resource=self.resource).count() == 1
        response = self.post(self.carol, {"resource": "junk", "usages": [{"type": "cpu", "amount": "1"}]})
        assert response.status_code == 400 and "resource" in response.json()

    def test_it_overwrites_instead_of_accumulating(self) -> None:
        self.post(self.carol, body(self.resource, ("cpu", "10")))
        response = self.post(self.oscar, body(self.resource, ("cpu", "15.25")))
        assert response.status_code == 201, response.content
        rows = ComponentUsage.objects.filter(resource=self.resource, component__type="cpu")
        assert rows.count() == 1
        assert rows.get().usage == Decimal("15.25")
        assert rows.get().modified_by == self.oscar
        revisions = list(UsageRevision.objects.filter(component_usage=rows.get()).order_by("pk"))
        assert [(r.old_value, r.new_value, r.actor) for r in revisions] == [
            (None, Decimal("10.00"), self.carol),
            (Decimal("10.00"), Decimal("15.25"), self.oscar),
        ]

    def test_it_drops_types_missing_from_the_request_from_current_usages(self) -> None:
        self.post(self.carol, body(self.resource, ("cpu", "1"), ("gpu", "2")))
        self.post(self.carol, body(self.resource, ("gpu", "3")))
        self.resource.refresh_from_db()
        assert self.resource.current_usages == {"gpu": 3.0}

    def test_it_lets_staff_report(self) -> None:
        assert self.post(self.staff, body(self.resource, ("cpu", "1"))).status_code == 201
        assert ComponentUsage.objects.filter(resource=self.resource).count() == 1

    def test_it_refuses_consumers_with_403_and_writes_nothing(self) -> None:
        for user in (self.alice, self.bob, self.erin):
            response = self.post(user, body(self.resource, ("cpu", "1")))
            assert response.status_code == 403, (user, response.content)
        assert not ComponentUsage.objects.exists()

    def test_a_provider_owner_whose_role_has_expired_reports_no_more(self) -> None:
        assert usage_services.can_report_usage(self.carol, self.resource)
        ended = timezone.now() - datetime.timedelta(minutes=1)
        CustomerRole.all_objects.filter(user=self.carol, customer=self.provider_p).update(
            expiration_time=ended
        )
        response = self.post(self.carol, body(self.resource, ("cpu", "1")))
        assert response.status_code == 400 and "resource" in response.json()
        assert not usage_services.can_report_usage(self.carol, self.resource)
        assert self.post(self.oscar, body(self.resource, ("cpu", "2"))).status_code == 201
        assert ComponentUsage.objects.get(resource=self.resource).modified_by == self.oscar

    def test_it_answers_an_outsider_with_400_naming_the_resource(self) -> None:
        response = self.post(self.dave, body(self.resource, ("cpu", "1")))
        assert response.status_code == 400
        assert "resource" in response.json()
        assert not ComponentUsage.objects.exists()

    def test_it_answers_another_provider_with_400_naming_the_resource(self) -> None:
        quentin = make_user("quentin")
        make_offering(make_customer("Provider Q", owner=quentin), name="Offering Q")
        response = self.post(quentin, body(self.resource, ("cpu", "1")))
        assert response.status_code == 400
        assert list(response.json()) == ["resource"]
        assert not ComponentUsage.objects.exists()

    def test_it_answers_401_without_a_token(self) -> None:
        assert self.post(None, body(self.resource, ("cpu", "1"))).status_code == 401

    def test_it_validates_before_checking_permission(self) -> None:
        response = self.post(self.bob, body(self.resource, ("cpu", "-1")))
        assert response.status_code == 400
        assert response.json() == {
            "usages": [{"amount": ["Ensure this value is greater than or equal to 0."]}]
        }

    def test_it_names_the_bad_item_of_the_list(self) -> None:
        response = self.post(self.carol, body(self.resource, ("cpu", "1"), ("gpu", "1.234")))
        assert response.status_code == 400
        assert response.json() == {
            "usages": [{}, {"amount": ["Ensure that there are no more than 2 decimal places."]}]
        }
        assert not ComponentUsage.objects.exists()

    def test_it_refuses_unknown_and_fixed_components(self) -> None:
        response = self.post(self.carol, body(self.resource, ("cpu", "1"), ("warp", "1"), ("support", "1")))
        assert response.status_code == 400
        errors = response.json()["usages"]
        assert errors[0] == {}
        assert errors[1] == {"type": ["These components are invalid: warp."]}
        assert errors[2] == {"type": ["These components are invalid: support."]}
        assert not ComponentUsage.objects.exists()

    def test_it_refuses_an_empty_list_and_a_missing_resource(self) -> None:
        response = self.post(self.carol, {"resource": str(self.resource.uuid), "usages": []})
        assert response.status_code == 400
        assert "usages" in response.json()
        response = self.post(self.carol, {"usages": [{"type": "cpu", "amount": "1"}]})
        assert response.status_code == 400
        assert response.json() == {"non_field_errors": ["Either plan_period or resource should be provided."]}

    def test_it_refuses_a_future_date(self) -> None:
        tomorrow = (timezone.now() + datetime.timedelta(days=1)).isoformat()
        response = self.post(self.carol, body(self.resource, ("cpu", "1"), date=tomorrow))
        assert response.status_code == 400
        assert response.json() == {"date": ["Cannot submit usage for future dates"]}
        assert not ComponentUsage.objects.exists()

    def test_it_refuses_terminated_and_creating_resources_but_accepts_terminating(self) -> None:
        transition_resource(self.resource, ResourceState.TERMINATING, actor=self.carol)
        assert self.post(self.carol, body(self.resource, ("cpu", "1"))).status_code == 201
        transition_resource(self.resource, ResourceState.TERMINATED, actor=self.carol)
        response = self.post(self.carol, body(self.resource, ("cpu", "2")))
        assert response.status_code == 400
        assert response.json() == {"resource": ["Resource is not in valid state."]}
        assert ComponentUsage.objects.get(resource=self.resource).usage == Decimal("1.00")

    def test_it_refuses_a_resource_without_a_plan(self) -> None:
        Resource.objects.filter(pk=self.resource.pk).update(plan=None)
        response = self.post(self.carol, body(self.resource, ("cpu", "1")))
        assert response.status_code == 400
        assert response.json() == {"resource": ["Resource must have a plan to report usage"]}

    def test_it_accepts_a_plan_period_and_refuses_a_closed_one(self) -> None:
        period = ResourcePlanPeriod.objects.get(resource=self.resource)
        data = {"plan_period": period.uuid.hex, "usages": [{"type": "cpu", "amount": "4"}]}
        assert self.post(self.carol, data).status_code == 201
        assert ComponentUsage.objects.get(resource=self.resource).plan_period == period
        ResourcePlanPeriod.objects.filter(pk=period.pk).update(
            end=timezone.now() - datetime.timedelta(days=62)
        )
        response = self.post(self.carol, data)
        assert response.status_code == 400
        assert response.json() == {"plan_period": ["Billing period is closed."]}

    def test_it_keeps_one_recurring_record_per_month(self) -> None:
        data = body(self.resource, ("cpu", "1"))
        data["usages"][0]["recurring"] = True
        self.post(self.carol, data)
        old_period = ResourcePlanPeriod.objects.get(resource=self.resource)
        plan = Plan.objects.create(offering=self.offering, name="Other")
        new_period = ResourcePlanPeriod.objects.create(resource=self.resource, plan=plan)
        ResourcePlanPeriod.objects.filter(pk=old_period.pk).update(end=timezone.now())
        data = {
            "plan_period": new_period.uuid.hex,
            "usages": [{"type": "cpu", "amount": "2", "recurring": True}],
        }
        assert self.post(self.carol, data).status_code == 201
        rows = {u.plan_period_id: u.recurring for u in ComponentUsage.objects.filter(resource=self.resource)}
        assert rows == {old_period.pk: False, new_period.pk: True}

    def test_it_records_the_site_agent_as_the_source(self) -> None:
        agent = "waldur-site-agent-report/0.7.0"
        self.post(self.carol, body(self.resource, ("cpu", "1")), HTTP_USER_AGENT=agent)
        self.post(self.carol, body(self.resource, ("cpu", "2")), HTTP_USER_AGENT="curl/8")
        revisions = list(UsageRevision.objects.order_by("pk"))
        assert [(r.source, r.user_agent) for r in revisions] == [
            (UsageRevision.Source.AGENT, agent),
            (UsageRevision.Source.API, "curl/8"),
        ]


class BackfillTests(MarketplaceTestCase):
    @classmethod
    def setUpTestData(cls) -> None:
        super().setUpTestData()
        cls.resource = make_resource(cls.alice, cls.carol, cls.project_a1, cls.offering)

    def last_month(self) -> str:
        current = billing_months.billing_period_of(timezone.now())
        previous = billing_months.add_months(current, -1)
        return billing_months.month_start(previous).replace(day=10).isoformat()

    def post(self, user: Any, data: dict[str, Any]) -> Any:
        return self.as_user(user).post(SET_USAGE, data, format="json")

    def test_it_lets_staff_backfill_usage_components(self) -> None:
        response = self.post(self.staff, body(self.resource, ("cpu", "7"), date=self.last_month()))
        assert response.status_code == 201, response.content
        row = ComponentUsage.objects.get(resource=self.resource)
        expected = billing_months.add_months(billing_months.billing_period_of(timezone.now()), -1)
        assert row.billing_period == expected
        assert row.plan_period is None  # the resource's only plan period starts this month
        self.resource.refresh_from_db()
        assert self.resource.current_usages == {}  # a past month does not change this month's figures

    def test_it_refuses_a_provider_backfilling_a_usage_component(self) -> None:
        for usages in ([("cpu", "7")], [("storage", "1"), ("cpu", "7")]):
            response = self.post(self.carol, body(self.resource, *usages, date=self.last_month()))
            assert response.status_code == 400
            assert response.json() == {"date": [usage_services.MSG_PROVIDER_BACKFILL]}
        assert not ComponentUsage.objects.exists()

    def test_it_lets_a_provider_backfill_limit_components(self) -> None:
        response = self.post(self.oscar, body(self.resource, ("storage", "7"), date=self.last_month()))
        assert response.status_code == 201, response.content
        assert ComponentUsage.objects.get(resource=self.resource).component.type == "storage"

    def test_it_always_accepts_a_date_in_the_current_month(self) -> None:
        start = billing_months.month_start(billing_months.billing_period_of(timezone.now()))
        response = self.post(self.carol, body(self.resource, ("cpu", "7"), date=start.isoformat()))
        assert response.status_code == 201, response.content

    def test_it_refuses_a_consumer_backfill_naming_the_date(self) -> None:
        response = self.post(self.alice, body(self.resource, ("cpu", "7"), date=self.last_month()))
        assert response.status_code == 400
        assert response.json() == {"date": [usage_services.MSG_BACKFILL_ROLE]}

    def test_it_consolidates_a_month_reported_without_a_plan_period(self) -> None:
        self.post(self.staff, body(self.resource, ("cpu", "7"), date=self.last_month()))
        period = ResourcePlanPeriod.objects.get(resource=self.resource)
        ResourcePlanPeriod.objects.filter(pk=period.pk).update(
            start=timezone.now() - datetime.timedelta(days=70)
        )
        response = self.post(self.staff, body(self.resource, ("cpu", "8"), date=self.last_month()))
        assert response.status_code == 201, response.content
        row = ComponentUsage.objects.get(resource=self.resource)
        assert (row.usage, row.plan_period_id) == (Decimal("8.00"), period.pk)

    def test_it_offers_the_months_each_user_may_report(self) -> None:
        current = billing_months.billing_period_of(timezone.now())
        staff_months = usage_services.reportable_months(user=self.staff, resource=self.resource)
        assert staff_months[0] == current
        assert len(staff_months) == usage_services.BACKFILL_MONTHS
        assert usage_services.reportable_months(user=self.carol, resource=self.resource) == staff_months
        assert usage_services.reportable_months(user=self.alice, resource=self.resource) == []


class BillingMonthTests(MarketplaceTestCase):
    def post(self, user: Any, data: dict[str, Any]) -> Any:
        return self.as_user(user).post(SET_USAGE, data, format="json")

    @override_settings(TIME_ZONE="Europe/Tallinn")
    def test_it_computes_the_month_in_the_configured_time_zone(self) -> None:
        with time_machine.travel(datetime.datetime(2025, 7, 31, 21, 25, tzinfo=datetime.UTC), tick=False):
            resource = make_resource(self.alice, self.carol, self.project_a1, self.offering)
            response = self.post(self.carol, body(resource, ("cpu", "3")))
            assert response.status_code == 201, response.content
        row = ComponentUsage.objects.get(resource=resource)
        assert row.billing_period == datetime.date(2025, 8, 1)
        listed = self.as_user(self.carol).get(f"/api/marketplace-component-usages/{row.uuid.hex}/").json()
        assert listed["billing_period"] == "2025-08-01"
        assert listed["date"] == "2025-07-31T21:25:00Z"

    @override_settings(TIME_ZONE="UTC")
    def test_it_stays_in_july_in_utc(self) -> None:
        with time_machine.travel(datetime.datetime(2025, 7, 31, 21, 25, tzinfo=datetime.UTC), tick=False):
            resource = make_resource(self.alice, self.carol, self.project_a1, self.offering)
            assert self.post(self.carol, body(resource, ("cpu", "3"))).status_code == 201
        assert ComponentUsage.objects.get(resource=resource).billing_period == datetime.date(2025, 7, 1)

    @override_settings(TIME_ZONE="Europe/Tallinn")
    def test_it_starts_a_new_record_in_a_new_month(self) -> None:
        with time_machine.travel(datetime.datetime(2025, 7, 31, 20, 0, tzinfo=datetime.UTC), tick=False):
            resource = make_resource(self.alice, self.carol, self.project_a1, self.offering)
            assert self.post(self.carol, body(resource, ("cpu", "3"))).status_code == 201
        with time_machine.travel(datetime.datetime(2025, 7, 31, 21, 5, tzinfo=datetime.UTC), tick=False):
            assert self.post(self.carol, body(resource, ("cpu", "1"))).status_code == 201
        periods = sorted(
            ComponentUsage.objects.filter(resource=resource).values_list("billing_period", "usage")
        )
        assert periods == [
            (datetime.date(2025, 7, 1), Decimal("3.00")),
            (datetime.date(2025, 8, 1), Decimal("1.00")),
        ]


class ComponentUsageListTests(MarketplaceTestCase):
    @classmethod
    def setUpTestData(cls) -> None:
        super().setUpTestData()
        cls.resource = make_resource(cls.alice, cls.carol, cls.project_a1, cls.offering, name="first")
        cls.other = make_resource(cls.alice, cls.carol, cls.project_a1, cls.offering, name="second")
        now = timezone.now()
        previous = billing_months.month_start(
            billing_months.add_months(billing_months.billing_period_of(now), -1)
        )
        cls.previous_date = previous + datetime.timedelta(days=3)
        items = [
            usage_services.UsageItem(type="cpu", amount=Decimal("5")),
            usage_services.UsageItem(type="gpu", amount=Decimal("1.5"), description="gpu hours"),
        ]
        usage_services.set_usage(user=cls.staff, resource=cls.resource, usages=items)
        usage_services.set_usage(
            user=cls.staff, resource=cls.resource, usages=items[:1], date=cls.previous_date
        )
        usage_services.set_usage(
            user=cls.staff,
            resource=cls.other,
            usages=[usage_services.UsageItem(type="cpu", amount=Decimal("9"))],
        )

    def get(self, user: Any, query: str = "") -> Any:
        return self.as_user(user).get(f"/api/marketplace-component-usages/{query}")

    def test_it_renders_the_waldur_fields(self) -> None:
        response = self.get(self.carol, f"?resource_uuid={self.resource.uuid.hex}&type=gpu")
        assert response.status_code == 200
        [item] = response.json()
        row = ComponentUsage.objects.get(resource=self.resource, component__type="gpu")
        assert item == {
            "uuid": row.uuid.hex,
            "created": item["created"],
            "description": "gpu hours",
            "type": "gpu",
            "name": "GPU",
            "measured_unit": "GPU-hours",
            "usage": "1.50",
            "date": item["date"],
            "recurring": False,
            "resource_name": "first",
            "resource_uuid": self.resource.uuid.hex,
            "offering_name": self.offering.name,
            "offering_uuid": self.offering.uuid.hex,
            "project_name": self.project_a1.name,
            "project_uuid": self.project_a1.uuid.hex,
            "customer_name": self.org_a.name,
            "customer_uuid": self.org_a.uuid.hex,
            "billing_period": row.billing_period.isoformat(),
            "modified_by": self.staff.pk,
            # Ours (docs/compatibility.md, "Usage corrections"): no per-user rows.
            "users_usage": None,
            "users_exceed_usage": False,
        }
        assert item["date"].endswith("Z") and item["created"].endswith("Z")

    def test_it_filters_by_billing_period_and_dates(self) -> None:
        current = billing_months.billing_period_of(timezone.now())
        response = self.get(self.carol, f"?billing_period={current.isoformat()}")
        assert response["X-Result-Count"] == "3"
        previous = self.previous_date.astimezone(datetime.UTC)
        query = f"?billing_period_year={previous.year}&billing_period_month={previous.month}"
        assert self.get(self.carol, query)["X-Result-Count"] == "1"
        day = timezone.localtime(self.previous_date).date().isoformat()
        assert self.get(self.carol, f"?date_after={day}&date_before={day}")["X-Result-Count"] == "1"
        dashed = f"{self.resource.uuid},{self.other.uuid}"
        assert self.get(self.carol, f"?resource_uuid={dashed}")["X-Result-Count"] == "4"
        assert self.get(self.carol, "?billing_period=junk").status_code == 400

    def test_it_refuses_impossible_years_and_months(self) -> None:
        for query in ("?billing_period_year=0", "?billing_period_year=99999", "?billing_period_month=13"):
            response = self.get(self.carol, query)
            assert response.status_code == 400, query
        user_usages = self.as_user(self.carol).get(
            "/api/marketplace-component-user-usages/?billing_period_year=-1"
        )
        assert user_usages.status_code == 400

    def test_it_orders_by_usage(self) -> None:
        values = [item["usage"] for item in self.get(self.carol, "?o=-usage").json()]
        assert values == ["9.00", "5.00", "5.00", "1.50"]

    def test_it_shows_usage_to_consumers_but_not_outsiders(self) -> None:
        assert self.get(self.bob)["X-Result-Count"] == "4"
        assert self.get(self.dave)["X-Result-Count"] == "0"
        row = ComponentUsage.objects.filter(resource=self.resource).first()
        assert row is not None
        assert self.get(self.dave, f"{row.uuid.hex}/").status_code == 404
        assert self.get(self.bob, f"{row.uuid}/").status_code == 200

    def test_it_serves_sparse_fields(self) -> None:
        response = self.get(
            self.carol, f"?resource_uuid={self.other.uuid.hex}&field=uuid&field=type&field=usage"
        )
        assert response.json() == [
            {"uuid": ComponentUsage.objects.get(resource=self.other).uuid.hex, "type": "cpu", "usage": "9.00"}
        ]
