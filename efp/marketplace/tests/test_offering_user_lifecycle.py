"""Offering users' lifecycle (issue 19): Waldur's verbs as the site agent calls them, every verb from every
state, and usernames by the offering's generation policy.

carol owns provider P; oscar manages its offering O and runs its agent; bob and erin work in alice's
project A1; dave is an outsider.
"""

from __future__ import annotations

from waldur_api_client.api.marketplace_offering_users import (
    marketplace_offering_users_begin_creating,
    marketplace_offering_users_partial_update,
    marketplace_offering_users_request_deletion,
    marketplace_offering_users_set_deleted,
    marketplace_offering_users_set_deleting,
    marketplace_offering_users_set_error_creating,
    marketplace_offering_users_set_ok,
    marketplace_offering_users_set_pending_account_linking,
    marketplace_offering_users_set_validation_complete,
)
from waldur_api_client.models import OfferingUserStateTransitionRequest, PatchedOfferingUserRequest

from efp.errors import Forbidden, StateConflict
from efp.marketplace.models import Offering, OfferingUser
from efp.marketplace.offering_user_states import OFFERING_USER_VERBS
from efp.marketplace.services.offering_users import create_offering_user, move_offering_user
from efp.marketplace.tests.base import MarketplaceTestCase
from efp.marketplace.tests.factories import make_user
from efp.marketplace.tests.test_site_agent_api import sdk, status_of

S = OfferingUser.State


class OfferingUserLifecycleTests(MarketplaceTestCase):
    def account(self, state: str = S.REQUESTED, user: object = None) -> OfferingUser:
        return create_offering_user(actor=None, offering=self.offering, user=user or self.bob, state=state)

    def test_it_moves_along_the_table_from_every_state_and_nowhere_else(self) -> None:
        account = self.account()
        for verb, step in OFFERING_USER_VERBS.items():
            for state in S:
                OfferingUser.objects.filter(pk=account.pk).update(state=state)
                account.refresh_from_db()
                if state in step.sources:
                    moved = move_offering_user(actor=self.oscar, offering_user=account, verb=verb)
                    assert moved.state == step.target, (verb, state)
                else:
                    with self.assertRaises(StateConflict, msg=(verb, state)):
                        move_offering_user(actor=self.oscar, offering_user=account, verb=verb)
                    assert OfferingUser.objects.get(pk=account.pk).state == state

    def test_it_lets_only_the_provider_side_move_an_account(self) -> None:
        account = self.account()
        for person in (self.bob, self.alice, self.dave):
            with self.assertRaises(Forbidden):
                move_offering_user(actor=person, offering_user=account, verb="begin_creating")
        assert (
            move_offering_user(actor=self.carol, offering_user=account, verb="begin_creating").state
            == S.CREATING
        )

    def test_the_agent_names_an_account_and_walks_it_through_its_life(self) -> None:
        agent = sdk(self.oscar)
        account = self.account()
        assert (account.state, account.username) == (S.REQUESTED, "")  # service_provider: the agent names it
        marketplace_offering_users_begin_creating.sync_detailed(uuid=account.uuid, client=agent)
        assert OfferingUser.objects.get(pk=account.pk).state == S.CREATING
        marketplace_offering_users_partial_update.sync(
            uuid=account.uuid, client=agent, body=PatchedOfferingUserRequest(username="bob_hpc")
        )
        account.refresh_from_db()
        assert (account.state, account.username) == (S.OK, "bob_hpc")  # named: OK, as Waldur does

        erin = self.account(user=self.erin)
        marketplace_offering_users_begin_creating.sync_detailed(uuid=erin.uuid, client=agent)
        body = OfferingUserStateTransitionRequest(
            comment="Link your university account", comment_url="https://id.example.org/"
        )
        response = marketplace_offering_users_set_pending_account_linking.sync_detailed(
            uuid=erin.uuid, client=agent, body=body
        )
        assert response.status_code == 200
        erin.refresh_from_db()
        assert (erin.state, erin.service_provider_comment, erin.service_provider_comment_url) == (
            S.PENDING_ACCOUNT_LINKING,
            "Link your university account",
            "https://id.example.org/",
        )
        marketplace_offering_users_set_validation_complete.sync_detailed(uuid=erin.uuid, client=agent)
        erin.refresh_from_db()
        assert (erin.state, erin.service_provider_comment) == (S.OK, "")
        for verb in (
            marketplace_offering_users_request_deletion,
            marketplace_offering_users_set_deleting,
            marketplace_offering_users_set_deleted,
        ):
            assert verb.sync_detailed(uuid=erin.uuid, client=agent).status_code == 200
        assert OfferingUser.objects.get(pk=erin.pk).state == S.DELETED
        # Deleted is final: 409 naming the states a verb starts from.
        for verb in (marketplace_offering_users_set_error_creating, marketplace_offering_users_set_ok):
            assert status_of(verb.sync_detailed, uuid=erin.uuid, client=agent) == 409
        assert OfferingUser.objects.get(pk=erin.pk).state == S.DELETED

    def test_it_refuses_what_the_person_may_not_do_and_changes_only_the_username(self) -> None:
        account = self.account()
        path = f"/api/marketplace-offering-users/{account.uuid.hex}/"
        assert self.as_user(self.bob).post(f"{path}begin_creating/").status_code == 403
        assert self.as_user(self.dave).post(f"{path}begin_creating/").status_code == 404
        response = self.as_user(self.oscar).patch(
            path, {"username": "x", "is_restricted": True}, format="json"
        )
        assert (response.status_code, list(response.json())) == (400, ["is_restricted"])
        bad = self.as_user(self.oscar).post(
            f"{path}set_pending_account_linking/", {"comment_url": "not a url"}, format="json"
        )
        assert bad.status_code in (400, 409)
        assert OfferingUser.objects.get(pk=account.pk).state == S.REQUESTED


class UsernamePolicyTests(MarketplaceTestCase):
    def offering_with(self, policy: str, **options: str) -> Offering:
        Offering.objects.filter(pk=self.offering.pk).update(
            plugin_options={"username_generation_policy": policy, **options}
        )
        return Offering.objects.get(pk=self.offering.pk)

    def test_it_names_accounts_as_the_offering_says(self) -> None:
        zoe = make_user("zoe", first_name="Zoë", last_name="Ångström")
        zed = make_user("zed", first_name="Zoe", last_name="Angstrom")
        cases = [
            ("waldur_username", {}, [(self.bob, "bob")]),
            ("full_name", {}, [(zoe, "zoe_angstrom"), (zed, "zoe_angstrom_2")]),
            ("anonymized", {"username_anonymized_prefix": "hpc_"}, [(zoe, "hpc_00001"), (zed, "hpc_00002")]),
            ("service_provider", {}, [(self.bob, "")]),
            ("freeipa", {}, [(self.bob, "")]),
        ]
        for policy, options, people in cases:
            OfferingUser.objects.all().delete()
            offering = self.offering_with(policy, **options)
            for person, expected in people:
                account = create_offering_user(actor=self.carol, offering=offering, user=person)
                state = S.OK if expected else S.REQUESTED
                assert (account.username, account.state) == (expected, state), policy
