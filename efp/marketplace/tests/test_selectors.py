"""The visibility rules of `selectors`, written in SQL, agree with the role models they read.

Each persona's visible orders are compared with what the roles say, computed here with the ORM: the
organisations and projects where the persona holds a role in force, and the offerings they manage.
"""

from __future__ import annotations

import datetime

import time_machine
from django.utils import timezone

from efp.accounts.models import User
from efp.marketplace import selectors
from efp.marketplace.models import OfferingRole, Order
from efp.marketplace.tests.base import MarketplaceTestCase
from efp.marketplace.tests.factories import make_order, make_project, make_user
from efp.structure.models import CustomerRole, Project, ProjectRole


def by_roles(user: User) -> set[int]:
    """Orders a user sees by the role models: as consumer or as provider."""
    customers = set(CustomerRole.objects.filter(user=user).values_list("customer_id", flat=True))
    projects = set(ProjectRole.objects.filter(user=user).values_list("project_id", flat=True))
    offerings = set(OfferingRole.objects.filter(user=user).values_list("offering_id", flat=True))
    projects |= set(Project.objects.filter(customer_id__in=customers).values_list("pk", flat=True))
    return {
        order.pk
        for order in Order.objects.select_related("offering")
        if order.project_id in projects
        or order.offering.customer_id in customers
        or order.offering_id in offerings
    }


class VisibilityRuleTests(MarketplaceTestCase):
    @classmethod
    def setUpTestData(cls) -> None:
        super().setUpTestData()
        cls.project_a2 = make_project(cls.org_a, "Project A2")
        cls.orders = [
            make_order(cls.alice, cls.project_a1, cls.offering),
            make_order(cls.alice, cls.project_a2, cls.basic),
            make_order(cls.erin, cls.project_a1, cls.basic),
        ]
        # Frank's project role ends a day from now.
        cls.frank = make_user("frank")
        cls.ends = timezone.now().replace(microsecond=0) + datetime.timedelta(days=1)
        ProjectRole.objects.create(
            project=cls.project_a2, user=cls.frank, role="PROJECT.MEMBER", expiration_time=cls.ends
        )

    def seen(self, user: User) -> set[int]:
        return set(selectors.visible_orders(user).values_list("pk", flat=True))

    def test_every_persona_sees_what_their_roles_grant(self) -> None:
        for user in (self.alice, self.bob, self.erin, self.carol, self.oscar, self.dave, self.frank):
            assert self.seen(user) == by_roles(user), user.username
        assert self.seen(self.dave) == set()
        assert self.seen(self.frank) == {self.orders[1].pk}

    def test_a_role_grants_nothing_from_its_expiration_time_on(self) -> None:
        with time_machine.travel(self.ends - datetime.timedelta(seconds=1)):
            assert self.seen(self.frank) == {self.orders[1].pk}
        with time_machine.travel(self.ends):
            assert self.seen(self.frank) == set()
            assert self.seen(self.frank) == by_roles(self.frank)  # the role manager agrees
