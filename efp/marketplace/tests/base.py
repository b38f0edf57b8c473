"""The personas every marketplace test speaks of.

alice owns consumer organisation A; bob is a member of project A1; erin is admin of project A1;
carol owns provider P, which sells offering O (Marketplace.Slurm) and B (Marketplace.Basic);
oscar is offering manager of O; dave is an outsider; staff is staff.
"""

from __future__ import annotations

from typing import Any

from rest_framework.test import APIClient, APITestCase

from efp.accounts.models import User
from efp.marketplace.models import OfferingType
from efp.marketplace.services.offerings import grant_offering_manager
from efp.marketplace.tests.factories import make_customer, make_offering, make_project, make_token, make_user


class MarketplaceTestCase(APITestCase):
    staff: User
    alice: User
    bob: User
    erin: User
    carol: User
    oscar: User
    dave: User

    @classmethod
    def setUpTestData(cls) -> None:
        cls.staff = make_user("staff", is_staff=True)
        cls.alice = make_user("alice")
        cls.bob = make_user("bob")
        cls.erin = make_user("erin")
        cls.carol = make_user("carol")
        cls.oscar = make_user("oscar")
        cls.dave = make_user("dave")
        cls.org_a = make_customer("Organisation A", owner=cls.alice)
        cls.project_a1 = make_project(cls.org_a, "Project A1", members=[cls.bob], admins=[cls.erin])
        cls.provider_p = make_customer("Provider P", owner=cls.carol)
        cls.offering = make_offering(cls.provider_p, name="Offering O")
        cls.basic = make_offering(cls.provider_p, name="Offering B", offering_type=OfferingType.BASIC)
        grant_offering_manager(offering=cls.offering, user=cls.oscar)

    def as_user(self, user: User | None) -> APIClient:
        client = APIClient()
        if user is not None:
            client.credentials(HTTP_AUTHORIZATION=f"Token {make_token(user)}")
        return client

    def url(self, path: str) -> str:
        return f"http://testserver{path}"

    @staticmethod
    def offering_url(offering: Any) -> str:
        return f"http://testserver/api/marketplace-public-offerings/{offering.uuid.hex}/"

    @staticmethod
    def plan_url(plan: Any) -> str:
        return f"http://testserver/api/marketplace-public-offerings/{plan.offering.uuid.hex}/plans/{plan.uuid.hex}/"

    @staticmethod
    def project_url(project: Any) -> str:
        return f"http://testserver/api/projects/{project.uuid.hex}/"
