"""Every response the site agent parses goes through the SDK's strict `Model.from_dict`, list and retrieve.

A `null` in a non-nullable field or an enum string the SDK does not know makes `from_dict` throw, so each
endpoint is fetched in the states a real deployment reaches (Creating, OK, Erred, Terminated resources;
reports, end dates, metadata; per-user usage with and without an offering user).
"""

from __future__ import annotations

import datetime
from decimal import Decimal
from typing import Any

from django.utils import timezone
from waldur_api_client.models import (
    BasePublicPlan,
    ComponentUsage,
    ComponentUserUsage,
    Customer,
    MarketplaceCategory,
    OrderDetails,
    Project,
    ProjectUser,
    ProviderOfferingDetails,
    ProviderPlanDetails,
    PublicOfferingDetails,
    Resource,
    ServiceProvider,
)

from efp.marketplace.models import ComponentUsage as ComponentUsageRow
from efp.marketplace.services import orders as order_services
from efp.marketplace.services import resources as resource_services
from efp.marketplace.services import usage as usage_services
from efp.marketplace.services import user_usage as user_usage_services
from efp.marketplace.tests.base import MarketplaceTestCase
from efp.marketplace.tests.factories import make_order, make_resource, plan_of


class SdkParsesEveryResponseTests(MarketplaceTestCase):
    @classmethod
    def setUpTestData(cls) -> None:
        super().setUpTestData()
        ok = make_resource(cls.alice, cls.carol, cls.project_a1, cls.offering, name="ok")
        resource_services.set_resource_backend_id(resource=ok, user=cls.carol, backend_id="acc_ok")
        resource_services.set_resource_backend_metadata(
            resource=ok, user=cls.carol, backend_metadata={"runtime_state": "active"}
        )
        resource_services.submit_resource_report(
            resource=ok, user=cls.carol, report=[{"header": "h", "body": "b"}]
        )
        resource_services.set_resource_end_date_by_provider(
            resource=ok, user=cls.carol, end_date=timezone.localdate() + datetime.timedelta(days=30)
        )
        resource_services.refresh_resource_last_sync(resource=ok, user=cls.carol)
        usage_services.set_usage(
            user=cls.carol,
            resource=ok,
            usages=[
                usage_services.UsageItem(type="cpu", amount=Decimal("12.5")),
                usage_services.UsageItem(type="storage", amount=Decimal("3")),
            ],
        )
        cpu = ComponentUsageRow.objects.get(resource=ok, component__type="cpu")
        user_usage_services.set_user_usages(
            user=cls.carol,
            component_usage=cpu,
            items=[
                usage_services.UserUsageItem(username="anna", usage=Decimal("10")),
                usage_services.UserUsageItem(username="ben", usage=Decimal("2.5")),
            ],
        )
        erred = make_resource(cls.alice, cls.carol, cls.project_a1, cls.offering, name="erred")
        resource_services.set_resource_erred(
            resource=erred, user=cls.carol, error_message="boom", error_traceback="tb"
        )
        gone = make_resource(cls.alice, cls.carol, cls.project_a1, cls.basic, name="gone")
        terminate = order_services.terminate_resource(resource=gone, user=cls.alice)
        order_services.approve_order_by_provider(order=terminate, user=cls.carol)
        terminate.refresh_from_db()
        if terminate.state != "done":
            order_services.complete_order(order=terminate, user=cls.carol)
        make_order(cls.alice, cls.project_a1, cls.offering, name="creating")
        updating = make_resource(cls.alice, cls.carol, cls.project_a1, cls.offering, name="updating")
        update = order_services.update_resource_limits(
            resource=updating, user=cls.alice, limits={"storage": 50}
        )
        order_services.approve_order_by_provider(order=update, user=cls.carol)

    def rows(self, path: str, user: Any = None) -> list[dict[str, Any]]:
        response = self.as_user(user or self.carol).get(f"{path}?page_size=100")
        assert response.status_code == 200, response.content
        rows = response.json()
        assert rows, path
        return rows  # type: ignore[no-any-return]

    def one(self, path: str, user: Any = None) -> dict[str, Any]:
        response = self.as_user(user or self.carol).get(path)
        assert response.status_code == 200, response.content
        return response.json()  # type: ignore[no-any-return]

    def parse_list_and_detail(self, model: Any, prefix: str, user: Any = None) -> list[Any]:
        parsed = []
        for row in self.rows(prefix, user):
            parsed.append(model.from_dict(row))
            parsed.append(model.from_dict(self.one(f"{prefix}{row['uuid']}/", user)))
        for item in parsed:
            item.to_dict()
        return parsed

    def test_it_parses_provider_and_consumer_resources(self) -> None:
        parsed = self.parse_list_and_detail(Resource, "/api/marketplace-provider-resources/")
        assert {r.state.value for r in parsed} >= {"Creating", "OK", "Erred", "Terminated", "Updating"}
        self.parse_list_and_detail(Resource, "/api/marketplace-resources/", self.alice)
        self.parse_list_and_detail(Resource, "/api/marketplace-resources/", self.staff)

    def test_it_parses_component_usages_and_user_usages(self) -> None:
        usages = self.parse_list_and_detail(ComponentUsage, "/api/marketplace-component-usages/")
        assert {u.type_ for u in usages} == {"cpu", "storage"}
        self.parse_list_and_detail(ComponentUsage, "/api/marketplace-component-usages/", self.alice)
        users = self.parse_list_and_detail(ComponentUserUsage, "/api/marketplace-component-user-usages/")
        assert {u.username for u in users} == {"anna", "ben"}

    def test_it_parses_orders(self) -> None:
        self.parse_list_and_detail(OrderDetails, "/api/marketplace-orders/")
        self.parse_list_and_detail(OrderDetails, "/api/marketplace-orders/", self.alice)

    def test_it_parses_offerings_plans_and_providers(self) -> None:
        self.parse_list_and_detail(ProviderOfferingDetails, "/api/marketplace-provider-offerings/")
        self.parse_list_and_detail(PublicOfferingDetails, "/api/marketplace-public-offerings/", self.alice)
        self.parse_list_and_detail(ProviderPlanDetails, "/api/marketplace-plans/")
        self.parse_list_and_detail(ServiceProvider, "/api/marketplace-service-providers/")
        self.parse_list_and_detail(MarketplaceCategory, "/api/marketplace-categories/")
        self.parse_list_and_detail(Customer, "/api/customers/")
        self.parse_list_and_detail(Project, "/api/projects/", self.alice)
        plan = plan_of(self.offering)
        BasePublicPlan.from_dict(
            self.one(f"/api/marketplace-public-offerings/{self.offering.uuid.hex}/plans/{plan.uuid.hex}/")
        ).to_dict()

    def test_it_parses_the_resource_team(self) -> None:
        resource = self.rows("/api/marketplace-provider-resources/")[0]
        team = self.as_user(self.carol).get(f"/api/marketplace-provider-resources/{resource['uuid']}/team/")
        assert team.status_code == 200
        for row in team.json():
            ProjectUser.from_dict(row)
