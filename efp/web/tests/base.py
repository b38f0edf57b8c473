"""The marketplace personas plus what the GUI tests need: a second provider and some usage."""

from __future__ import annotations

import datetime
from decimal import Decimal
from typing import Any

from django.test import Client

from efp.accounts.models import User
from efp.marketplace import billing_months
from efp.marketplace.models import ComponentUsage, Resource, UsageRevision
from efp.marketplace.services import usage as usage_services
from efp.marketplace.tests.base import MarketplaceTestCase
from efp.marketplace.tests.factories import (
    make_customer,
    make_offering,
    make_project,
    make_resource,
    make_user,
)
from efp.structure.roles import Role
from efp.structure.services import grant_customer_role


class WebTestCase(MarketplaceTestCase):
    """carol owns provider P (offerings O and B); rita is a reader of P (sees, may not act); quinn owns
    provider Q, whose resources carol must not see; dave owns consumer organisation Z."""

    quinn: User
    rita: User

    @classmethod
    def setUpTestData(cls) -> None:
        super().setUpTestData()
        cls.quinn = make_user("quinn")
        cls.provider_q = make_customer("Provider Q", owner=cls.quinn)
        cls.offering_q = make_offering(cls.provider_q, name="Offering Q")
        cls.rita = make_user("rita")
        grant_customer_role(customer=cls.provider_p, user=cls.rita, role=Role.CUSTOMER_READER)
        cls.org_z = make_customer("Organisation Z", owner=cls.dave)
        cls.project_z1 = make_project(cls.org_z, "Project Z1")

    def login(self, user: User | None) -> Client:
        client = Client()
        if user is not None:
            client.force_login(user)
        return client

    def resource(self, name: str = "alloc", offering: Any = None, provider: User | None = None) -> Resource:
        return make_resource(
            self.alice, provider or self.carol, self.project_a1, offering or self.offering, name=name
        )

    def report(
        self, resource: Resource, month: datetime.date | None = None, **amounts: Decimal | int | str
    ) -> list[ComponentUsage]:
        """Reports usage as staff (who may back-fill every month)."""
        date = None if month is None else billing_months.month_start(month)
        return usage_services.set_usage(
            user=self.staff,
            resource=resource,
            usages=[usage_services.UsageItem(type=t, amount=Decimal(str(a))) for t, a in amounts.items()],
            date=date,
            source=UsageRevision.Source.API,
        )
