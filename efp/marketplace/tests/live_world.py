"""The personas of `base.MarketplaceTestCase`, built per test for live-server (transactional) tests."""

from __future__ import annotations

from dataclasses import dataclass

from waldur_api_client import AuthenticatedClient

from efp.accounts.models import User
from efp.marketplace.models import Offering, Resource
from efp.marketplace.services.offerings import grant_offering_manager
from efp.marketplace.tests.factories import (
    make_customer,
    make_offering,
    make_project,
    make_resource,
    make_token,
    make_user,
)


@dataclass(frozen=True)
class World:
    staff: User
    alice: User
    carol: User
    oscar: User
    offering: Offering
    resource: Resource

    def token(self, user: User) -> str:
        return make_token(user)


def build_world() -> World:
    staff = make_user("staff", is_staff=True)
    alice, carol, oscar = make_user("alice"), make_user("carol"), make_user("oscar")
    org_a = make_customer("Organisation A", owner=alice)
    project = make_project(org_a, "Project A1")
    provider = make_customer("Provider P", owner=carol)
    offering = make_offering(provider, name="Offering O")
    grant_offering_manager(offering=offering, user=oscar)
    resource = make_resource(alice, carol, project, offering, name="alloc")
    return World(staff=staff, alice=alice, carol=carol, oscar=oscar, offering=offering, resource=resource)


def sdk_client(base_url: str, user: User, user_agent: str = "efp-sdk-contract-tests") -> AuthenticatedClient:
    """Waldur's SDK client for `user`, as a script or the site agent builds it."""
    return AuthenticatedClient(
        base_url=base_url,
        token=make_token(user),
        prefix="Token",
        # One request per connection: no keep-alive request thread outlives the test (SQLite in memory).
        headers={"User-Agent": user_agent, "Connection": "close"},
    )
