"""`usage_flags`, `limit_forecasts` and the `usage_flag` filter on the resource lists (ours).

alice's allocation "over" has used 12 of its 10 TB of storage this month, "calm" 1 of 10; carol sells them.
"""

from __future__ import annotations

import datetime
from decimal import Decimal

import time_machine

from efp.marketplace.models import UsageRevision
from efp.marketplace.services import usage as usage_services
from efp.marketplace.services.forecasts import refresh_forecasts
from efp.marketplace.tests.base import MarketplaceTestCase
from efp.marketplace.tests.factories import make_resource
from efp.marketplace.tests.test_schema import generate_schema

NOW = datetime.datetime(2026, 6, 28, 12, tzinfo=datetime.UTC)
PROVIDER = "/api/marketplace-provider-resources/"
CONSUMER = "/api/marketplace-resources/"


@time_machine.travel(NOW, tick=False)
class ForecastFieldTests(MarketplaceTestCase):
    @classmethod
    def setUpTestData(cls) -> None:
        super().setUpTestData()
        with time_machine.travel(NOW, tick=False):
            cls.over = make_resource(cls.alice, cls.carol, cls.project_a1, cls.offering, name="over")
            cls.calm = make_resource(cls.alice, cls.carol, cls.project_a1, cls.offering, name="calm")
            for resource, amount in ((cls.over, 12), (cls.calm, 1)):
                usage_services.set_usage(
                    user=cls.staff,
                    resource=resource,
                    usages=[usage_services.UsageItem(type="storage", amount=Decimal(amount))],
                    source=UsageRevision.Source.API,
                )
            refresh_forecasts()

    def rows(self, user: object, url: str) -> dict[str, dict[str, object]]:
        response = self.as_user(user).get(url)  # type: ignore[arg-type]
        assert response.status_code == 200, response.content
        return {row["name"]: row for row in response.json()}

    def test_it_gives_the_provider_flags_and_forecasts_of_each_resource(self) -> None:
        rows = self.rows(self.carol, PROVIDER)
        assert rows["over"]["usage_flags"] == ["over_limit"]
        assert rows["over"]["limit_forecasts"] == {
            "storage": {"runs_out": "2026-06-28", "rate_per_day": "12", "used": "12", "limit": "10"}
        }
        assert rows["calm"]["usage_flags"] == []  # 1 a day: 9 TB last until 7 July, after June
        assert rows["calm"]["limit_forecasts"]["storage"]["runs_out"] is None  # type: ignore[index]

    def test_the_offering_manager_and_staff_see_them_too(self) -> None:
        for user in (self.oscar, self.staff):
            assert self.rows(user, PROVIDER)["over"]["usage_flags"] == ["over_limit"]

    def test_the_consumer_sees_them_on_their_resources(self) -> None:
        for user in (self.alice, self.bob, self.erin):
            rows = self.rows(user, CONSUMER)
            assert rows["over"]["usage_flags"] == ["over_limit"], user
            assert rows["calm"]["limit_forecasts"]["storage"]["limit"] == "10"  # type: ignore[index]
        detail = self.as_user(self.alice).get(f"{CONSUMER}{self.over.uuid.hex}/").json()
        assert detail["usage_flags"] == ["over_limit"]

    def test_it_filters_by_flag(self) -> None:
        assert list(self.rows(self.carol, f"{PROVIDER}?usage_flag=over_limit")) == ["over"]
        assert list(self.rows(self.alice, f"{CONSUMER}?usage_flag=over_limit")) == ["over"]
        assert self.rows(self.carol, f"{PROVIDER}?usage_flag=spike") == {}

    def test_an_unknown_flag_is_a_400_with_the_field(self) -> None:
        response = self.as_user(self.carol).get(f"{PROVIDER}?usage_flag=doomed")
        assert response.status_code == 400
        assert "usage_flag" in response.json()

    def test_others_see_no_resource_and_anonymous_is_refused(self) -> None:
        assert self.rows(self.dave, f"{PROVIDER}?usage_flag=over_limit") == {}
        assert self.rows(self.dave, f"{CONSUMER}?usage_flag=over_limit") == {}
        assert self.as_user(None).get(f"{PROVIDER}?usage_flag=over_limit").status_code == 401

    def test_a_resource_never_forecast_has_no_flags_and_no_forecasts(self) -> None:
        fresh = make_resource(self.alice, self.carol, self.project_a1, self.offering, name="fresh")
        row = self.rows(self.carol, f"{PROVIDER}?name_exact=fresh")["fresh"]
        assert (row["usage_flags"], row["limit_forecasts"]) == ([], {})
        assert fresh.name == "fresh"

    def test_the_schema_documents_the_fields_and_the_filter(self) -> None:
        schema, _ = generate_schema()
        resource = schema["components"]["schemas"]["Resource"]["properties"]
        flags = schema["components"]["schemas"][resource["usage_flags"]["items"]["$ref"].rsplit("/", 1)[-1]]
        assert flags["enum"] == ["runs_out_before_end", "over_limit", "usage_fell", "spike"]
        assert "Over a limit" in flags["description"]
        forecast = resource["limit_forecasts"]["additionalProperties"]["$ref"].rsplit("/", 1)[-1]
        assert set(schema["components"]["schemas"][forecast]["properties"]) == {
            "runs_out",
            "rate_per_day",
            "used",
            "limit",
        }
        parameters = schema["paths"][PROVIDER]["get"]["parameters"]
        assert any(p["name"] == "usage_flag" for p in parameters)
