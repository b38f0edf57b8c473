"""A person's usage above their per-user limit is refused (issue 19; Waldur: "Usage limit exceeded", 400),
whether the site agent reports it or the provider types it into the GUI's report.

alice owns organisation A; bob and erin work in its project A1 with accounts bob_hpc and erin_hpc at
carol's offering O, which oscar manages; alice limited bob to 50 CPU hours on resource alpha.
"""

from __future__ import annotations

from decimal import Decimal

from efp.marketplace.models import ComponentUserUsage
from efp.marketplace.services.offering_users import create_offering_user
from efp.marketplace.services.usage import UsageItem, UserUsageItem, set_usage
from efp.marketplace.services.user_limits import UserLimit, set_user_limit
from efp.marketplace.services.user_usage import set_user_usage
from efp.marketplace.tests.base import MarketplaceTestCase
from efp.marketplace.tests.factories import make_resource


class UserLimitEnforcementTests(MarketplaceTestCase):
    @classmethod
    def setUpTestData(cls) -> None:
        super().setUpTestData()
        cls.alpha = make_resource(cls.alice, cls.carol, cls.project_a1, cls.offering, name="alpha")
        bob_hpc = create_offering_user(actor=None, offering=cls.offering, user=cls.bob, username="bob_hpc")
        create_offering_user(actor=None, offering=cls.offering, user=cls.erin, username="erin_hpc")
        cls.cpu = cls.offering.components.get(type="cpu")
        limit = UserLimit(resource=cls.alpha, component=cls.cpu, user=bob_hpc, limit=Decimal(50))
        set_user_limit(actor=cls.alice, limit=limit)
        (cls.month,) = set_usage(user=cls.carol, resource=cls.alpha, usages=[UsageItem("cpu", Decimal(100))])

    def agent_reports(self, *usages: tuple[str, str]) -> tuple[int, dict]:
        answer = self.as_user(self.oscar).post(
            f"/api/marketplace-component-usages/{self.month.uuid.hex}/set_user_usages/",
            {"usages": [{"username": name, "usage": amount} for name, amount in usages]},
            format="json",
        )
        return answer.status_code, answer.json() if answer.content else {}

    def rows(self) -> dict[str, Decimal]:
        return dict(
            ComponentUserUsage.objects.filter(component_usage=self.month).values_list("username", "usage")
        )

    def test_usage_up_to_the_limit_is_taken_and_above_it_nothing_of_the_call_is(self) -> None:
        assert self.agent_reports(("bob_hpc", "50.00"), ("erin_hpc", "70"))[0] == 201
        assert self.rows() == {"bob_hpc": Decimal("50.00"), "erin_hpc": Decimal("70.00")}

        status, body = self.agent_reports(("erin_hpc", "75"), ("bob_hpc", "50.01"))
        assert status == 400
        assert body["usages"][0] == {}
        assert body["usages"][1]["non_field_errors"][0].startswith("Usage limit exceeded")
        assert self.rows() == {"bob_hpc": Decimal("50.00"), "erin_hpc": Decimal("70.00")}

    def test_the_limit_follows_the_person_when_the_row_names_them(self) -> None:
        """A row under another username that links bob (the person) meets bob's limit too."""
        item = UserUsageItem(username="bob_old_login", usage=Decimal(60), user=self.bob)
        with self.assertRaisesMessage(Exception, "Usage limit exceeded"):
            set_user_usage(user=self.oscar, component_usage=self.month, item=item)
        ok = UserUsageItem(username="bob_old_login", usage=Decimal(40), user=self.bob)
        assert set_user_usage(user=self.oscar, component_usage=self.month, item=ok).usage == Decimal(40)
