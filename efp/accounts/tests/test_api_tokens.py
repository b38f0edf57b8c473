"""API tokens worth their name: stored as digests, several named ones per person, each with an optional
expiry, its last use and address; revocable by their owner and by staff; optionally limited to one offering
(what a site agent needs). `Authorization: Token <key>` is what it always was."""

from __future__ import annotations

import datetime
import importlib
from io import StringIO
from typing import Any

import time_machine
from django.core.management import call_command
from django.db import connection
from django.test import Client
from rest_framework.test import APIClient

from efp.accounts import signals
from efp.accounts.models import ApiToken
from efp.accounts.services import digest_of, issue_token, revoke_token
from efp.errors import Forbidden, InvalidInput, StateConflict
from efp.marketplace.tests.base import MarketplaceTestCase
from efp.marketplace.tests.factories import make_offering, make_order, make_resource

START = datetime.datetime(2026, 3, 10, 9, 0, tzinfo=datetime.UTC)


def client_with(key: str, address: str = "192.0.2.1") -> APIClient:
    client = APIClient(REMOTE_ADDR=address)
    client.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    return client


def me(key: str, address: str = "192.0.2.1") -> tuple[int, Any]:
    response = client_with(key, address).get("/api/users/me/")
    return response.status_code, response.json()


class Heard:
    """What a signal said, as the access audit will hear it."""

    def __init__(self, signal: Any) -> None:
        self.calls: list[dict[str, Any]] = []
        signal.connect(self.receive, weak=False)
        self.signal = signal

    def receive(self, sender: Any, **kwargs: Any) -> None:
        self.calls.append(kwargs)

    def close(self) -> None:
        self.signal.disconnect(self.receive)


class StoredTokenTests(MarketplaceTestCase):
    def hear(self, signal: Any) -> Heard:
        heard = Heard(signal)
        self.addCleanup(heard.close)
        return heard

    def test_it_keeps_no_usable_key_in_the_database(self) -> None:
        token, key = issue_token(user=self.alice, name="laptop")
        row = ApiToken.objects.filter(pk=token.pk).values().get()
        assert key not in {str(value) for value in row.values()}
        assert row["digest"] == digest_of(key) and row["prefix"] == key[:8]
        # what a copy of the database holds does not authenticate, neither the digest nor its prefix
        assert me(row["digest"])[0] == 401
        assert me(row["digest"][:40])[0] == 401
        assert me(key)[0] == 200
        with connection.cursor() as cursor:  # nor is the key anywhere in the token table's text
            cursor.execute(f"SELECT * FROM {ApiToken._meta.db_table}")  # noqa: S608 - our table
            assert all(key not in str(value) for found in cursor.fetchall() for value in found)

    def test_it_gives_a_person_several_named_tokens_that_all_work(self) -> None:
        keys = [issue_token(user=self.alice, name=name)[1] for name in ("laptop", "agent", "ci")]
        assert len(set(keys)) == 3
        assert all(me(key) == (200, me(keys[0])[1]) for key in keys)
        assert sorted(self.alice.api_tokens.values_list("name", flat=True)) == ["agent", "ci", "laptop"]

    def test_it_refuses_a_token_past_its_expiry(self) -> None:
        with time_machine.travel(START, tick=False):
            _token, key = issue_token(
                user=self.alice, name="week", expires=START + datetime.timedelta(days=7)
            )
        with time_machine.travel(START + datetime.timedelta(days=7, seconds=-1), tick=False):
            assert me(key)[0] == 200
        with time_machine.travel(START + datetime.timedelta(days=7), tick=False):
            assert me(key) == (401, {"detail": "Token has expired."})

    def test_it_refuses_an_expiry_in_the_past(self) -> None:
        with time_machine.travel(START, tick=False):
            try:
                issue_token(user=self.alice, name="old", expires=START)
            except InvalidInput as error:
                assert "expires" in error.field_errors()
            else:
                raise AssertionError("an expiry in the past was accepted")

    def test_it_refuses_a_revoked_token_and_keeps_the_others(self) -> None:
        token, key = issue_token(user=self.alice, name="laptop")
        _other, other_key = issue_token(user=self.alice, name="agent")
        revoked = self.hear(signals.token_revoked)
        revoke_token(token=token, by=self.alice)
        assert me(key) == (401, {"detail": "Invalid token."})
        assert me(other_key)[0] == 200
        assert [(call["token"].uuid, call["actor"]) for call in revoked.calls] == [(token.uuid, self.alice)]

    def test_it_lets_only_the_owner_and_staff_revoke(self) -> None:
        token, _key = issue_token(user=self.alice, name="laptop")
        try:
            revoke_token(token=token, by=self.dave)
        except Forbidden:
            pass
        else:
            raise AssertionError("an outsider revoked a token")
        revoke_token(token=token, by=self.staff)
        try:
            revoke_token(token=token, by=self.alice)
        except StateConflict:
            pass
        else:
            raise AssertionError("a token was revoked twice")

    def test_it_notes_the_last_use_at_most_once_a_minute(self) -> None:
        token, key = issue_token(user=self.alice, name="laptop")
        with time_machine.travel(START, tick=False):
            assert me(key)[0] == 200
        with time_machine.travel(START + datetime.timedelta(seconds=59), tick=False):
            assert me(key)[0] == 200
        token.refresh_from_db()
        assert (token.last_used, token.last_used_from) == (START, "192.0.2.1")
        with time_machine.travel(START + datetime.timedelta(seconds=60), tick=False):
            assert me(key)[0] == 200
        token.refresh_from_db()
        assert token.last_used == START + datetime.timedelta(seconds=60)

    def test_it_writes_nothing_for_a_use_within_the_minute(self) -> None:
        _token, key = issue_token(user=self.alice, name="laptop")
        client = client_with(key)
        client.get("/api/users/me/")
        with self.assertNumQueries(2):  # each request reads the token and its user, nothing is written
            client.get("/api/users/me/")
            client.get("/api/users/me/")

    def test_it_tells_of_a_use_from_a_new_address(self) -> None:
        token, key = issue_token(user=self.alice, name="laptop")
        moved = self.hear(signals.token_used_from_new_address)
        with time_machine.travel(START, tick=False):
            me(key, "192.0.2.1")
            me(key, "192.0.2.1")
        with time_machine.travel(START + datetime.timedelta(seconds=5), tick=False):
            me(key, "198.51.100.7")  # written at once, within the minute
        token.refresh_from_db()
        assert token.last_used_from == "198.51.100.7"
        assert [(call["token"].name, call["address"]) for call in moved.calls] == [("laptop", "198.51.100.7")]

    def test_it_tells_of_a_new_token(self) -> None:
        created = self.hear(signals.token_created)
        token, _key = issue_token(user=self.alice, name="laptop")
        assert [(call["token"].uuid, call["token"].user, call["actor"]) for call in created.calls] == [
            (token.uuid, self.alice, self.alice)
        ]

    def test_it_prints_a_new_cli_token_each_time_and_keeps_the_older(self) -> None:
        keys = []
        for _ in range(2):
            out = StringIO()
            call_command("token", "alice", stdout=out)
            keys.append(out.getvalue().strip())
        assert keys[0] != keys[1]
        assert all(me(key)[0] == 200 for key in keys)
        assert list(self.alice.api_tokens.values_list("name", flat=True)) == ["cli", "cli"]


class ApiTokenEndpointTests(MarketplaceTestCase):
    def test_it_makes_a_token_and_answers_its_key_once(self) -> None:
        client = self.as_user(self.alice)
        response = client.post("/api/api-tokens/", {"name": "laptop"}, format="json")
        assert response.status_code == 201
        key = response.json()["key"]
        assert me(key)[0] == 200
        listed = client.get("/api/api-tokens/").json()
        laptop = next(token for token in listed if token["name"] == "laptop")
        assert "key" not in laptop and "digest" not in laptop
        assert key not in str(listed) and digest_of(key) not in str(listed)
        assert laptop["prefix"] == key[:8]
        assert client.get(f"/api/api-tokens/{laptop['uuid']}/").json() == laptop

    def test_it_lists_my_tokens_and_staff_sees_all(self) -> None:
        issue_token(user=self.bob, name="bob's")
        mine = {token["username"] for token in self.as_user(self.alice).get("/api/api-tokens/").json()}
        assert mine == {"alice"}
        everyone = {token["username"] for token in self.as_user(self.staff).get("/api/api-tokens/").json()}
        assert {"alice", "bob", "staff"} <= everyone

    def test_it_refuses_a_token_without_a_name_and_changes_nothing(self) -> None:
        client = self.as_user(self.alice)
        before = ApiToken.objects.count()
        response = client.post("/api/api-tokens/", {"name": ""}, format="json")
        assert response.status_code == 400 and "name" in response.json()
        assert ApiToken.objects.count() == before

    def test_it_revokes_my_token_and_staff_revokes_anyones(self) -> None:
        mine, key = issue_token(user=self.alice, name="laptop")
        theirs, their_key = issue_token(user=self.bob, name="bob's")
        alice = self.as_user(self.alice)
        response = alice.post(f"/api/api-tokens/{mine.uuid.hex}/revoke/")
        assert response.status_code == 200 and response.json()["revoked"] is not None
        assert me(key)[0] == 401
        assert alice.post(f"/api/api-tokens/{mine.uuid.hex}/revoke/").status_code == 409
        assert alice.post(f"/api/api-tokens/{theirs.uuid.hex}/revoke/").status_code == 404
        assert self.as_user(self.staff).post(f"/api/api-tokens/{theirs.uuid.hex}/revoke/").status_code == 200
        assert me(their_key)[0] == 401

    def test_it_limits_a_token_to_an_offering_of_my_provider_only(self) -> None:
        carol = self.as_user(self.carol)
        response = carol.post(
            "/api/api-tokens/", {"name": "agent", "offering_uuid": self.offering.uuid.hex}, format="json"
        )
        assert response.status_code == 201 and response.json()["offering_uuid"] == self.offering.uuid.hex
        refused = self.as_user(self.alice).post(
            "/api/api-tokens/", {"name": "agent", "offering_uuid": self.offering.uuid.hex}, format="json"
        )
        assert refused.status_code == 400 and "offering_uuid" in refused.json()


class ScopedTokenTests(MarketplaceTestCase):
    """oscar's site agent holds a token limited to offering O; carol's provider also sells B."""

    @classmethod
    def setUpTestData(cls) -> None:
        super().setUpTestData()
        cls.resource = make_resource(cls.alice, cls.carol, cls.project_a1, cls.offering, name="on O")
        cls.other = make_resource(cls.alice, cls.carol, cls.project_a1, cls.basic, name="on B")
        cls.order = make_order(cls.alice, cls.project_a1, cls.offering, name="pending")
        cls.elsewhere = make_offering(cls.provider_p, name="Offering E")

    def setUp(self) -> None:
        self.token, self.key = issue_token(user=self.carol, name="site agent", offering=self.offering)
        self.agent = client_with(self.key)

    def test_it_reads_its_offering_and_what_hangs_off_it(self) -> None:
        o = self.offering.uuid.hex
        for path in (
            f"/api/marketplace-provider-offerings/{o}/",
            f"/api/marketplace-orders/?offering_uuid={o}",
            f"/api/marketplace-orders/{self.order.uuid.hex}/",
            f"/api/marketplace-provider-resources/?offering_uuid={o}",
            f"/api/marketplace-provider-resources/{self.resource.uuid.hex}/",
            f"/api/marketplace-component-usages/?resource_uuid={self.resource.uuid.hex}",
            f"/api/marketplace-offering-users/?offering_uuid={o}",
            f"/api/marketplace-site-agent-identities/?offering_uuid={o}",
            "/api/users/me/",
        ):
            assert self.agent.get(path).status_code == 200, path

    def test_it_reports_usage_of_its_offering(self) -> None:
        response = self.agent.post(
            "/api/marketplace-component-usages/set_usage/",
            {"resource": self.resource.uuid.hex, "usages": [{"type": "cpu", "amount": "1.5"}]},
            format="json",
        )
        assert response.status_code in (200, 201), response.json()

    def test_it_refuses_what_a_site_agent_does_not_do(self) -> None:
        for method, path in (
            ("get", "/api/customers/"),
            ("get", "/api/projects/"),
            ("get", "/api/api-tokens/"),
            ("post", "/api/api-tokens/"),
            ("get", "/api/invoices/"),
            ("get", "/api/marketplace-component-usages/"),  # a list the token must narrow itself
            ("get", f"/api/marketplace-component-usages/?offering_uuid={self.basic.uuid.hex}"),
            ("get", f"/api/marketplace-component-usages/?resource_uuid={self.other.uuid.hex}"),
            ("post", "/api/marketplace-orders/"),
            ("post", f"/api/marketplace-resources/{self.resource.uuid.hex}/terminate/"),
            ("patch", f"/api/marketplace-provider-offerings/{self.offering.uuid.hex}/"),
        ):
            response = getattr(self.agent, method)(path, {}, format="json")
            assert response.status_code == 403, (method, path, response.status_code)
            assert "limited to one offering" in response.json()["detail"], path

    def test_it_lists_only_its_offerings_rows(self) -> None:
        orders = self.agent.get("/api/marketplace-orders/").json()
        assert orders and {order["offering_uuid"] for order in orders} == {self.offering.uuid.hex}
        resources = self.agent.get("/api/marketplace-provider-resources/").json()
        assert self.resource.uuid.hex in {resource["uuid"] for resource in resources}
        assert {resource["offering_uuid"] for resource in resources} == {self.offering.uuid.hex}
        elsewhere = f"/api/marketplace-provider-resources/?offering_uuid={self.basic.uuid.hex}"
        assert self.agent.get(elsewhere).json() == []
        head = self.agent.head("/api/marketplace-orders/")
        assert head["X-Result-Count"] == str(len(orders))  # not the provider's total from the tally

    def test_it_does_not_see_the_providers_other_offerings(self) -> None:
        for path in (
            f"/api/marketplace-provider-offerings/{self.basic.uuid.hex}/",
            f"/api/marketplace-provider-resources/{self.other.uuid.hex}/",
        ):
            assert self.agent.get(path).status_code == 404, path
        usage = self.agent.post(
            "/api/marketplace-component-usages/set_usage/",
            {"resource": self.other.uuid.hex, "usages": [{"type": "cpu", "amount": "1"}]},
            format="json",
        )
        assert usage.status_code == 403
        # carol's own (unlimited) token still sees both
        assert (
            self.as_user(self.carol)
            .get(f"/api/marketplace-provider-resources/{self.other.uuid.hex}/")
            .status_code
            == 200
        )


class CarriedOverTokenTests(MarketplaceTestCase):
    """accounts/0004: the keys of DRF's authtoken table keep working, stored as digests; the table goes."""

    def test_it_carries_the_old_keys_over_and_drops_their_table(self) -> None:
        from django.apps import apps

        migration = importlib.import_module("efp.accounts.migrations.0004_api_tokens")
        old_key = "0123456789abcdef0123456789abcdef01234567"
        created = "timestamp with time zone" if connection.vendor == "postgresql" else "datetime"
        with connection.cursor() as cursor:  # DRF's table, as the last release with it left it
            columns = f"key varchar(40) PRIMARY KEY, user_id bigint, created {created}"
            cursor.execute(f"CREATE TABLE authtoken_token ({columns})")
            cursor.execute("INSERT INTO authtoken_token VALUES (%s, %s, %s)", [old_key, self.alice.pk, START])

        class SchemaEditor:
            def __init__(self) -> None:
                self.connection = connection

            def execute(self, sql: str) -> None:
                with connection.cursor() as cursor:
                    cursor.execute(sql)

        migration.carry_over(apps, SchemaEditor())
        assert "authtoken_token" not in connection.introspection.table_names()
        token = ApiToken.objects.get(user=self.alice, name="migrated")
        assert (token.digest, token.prefix, token.last_used) == (digest_of(old_key), old_key[:8], START)
        assert me(old_key)[0] == 200


class AdminTokenTests(MarketplaceTestCase):
    def test_staff_see_tokens_without_digests_and_revoke_them_in_the_admin(self) -> None:
        token, key = issue_token(user=self.alice, name="laptop")
        self.staff.is_superuser = True  # the admin's own permissions (the demo's staff user is one)
        self.staff.save(update_fields=["is_superuser"])
        admin = Client()
        admin.force_login(self.staff)
        page = admin.get("/admin/accounts/apitoken/").content.decode()
        assert "laptop" in page and token.digest not in page and key not in page
        detail = admin.get(f"/admin/accounts/apitoken/{token.pk}/change/").content.decode()
        assert token.digest not in detail
        response = admin.post(
            "/admin/accounts/apitoken/", {"action": "revoke", "_selected_action": [token.pk]}
        )
        assert response.status_code == 302
        assert me(key)[0] == 401
