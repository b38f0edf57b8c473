"""`/api/marketplace-service-providers/{uuid}/keys/`: the SSH keys of the people the provider serves.

bob (member of project A1) and erin (admin of A1) have keys; A1 has a live allocation of carol's offering O.
dave has a key too but no role anywhere near provider P.
"""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.db import connection
from django.test.utils import CaptureQueriesContext

from efp.accounts.models import SshKey
from efp.accounts.services import add_ssh_key
from efp.marketplace.models import ServiceProvider
from efp.marketplace.services import orders as order_services
from efp.marketplace.tests.base import MarketplaceTestCase
from efp.marketplace.tests.factories import make_customer, make_offering, make_resource, make_user

# A throwaway ed25519 public key and what `ssh-keygen -l -E sha256|md5` says about it.
BOB_KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIJneFlaPxwRgzBZfmiVj5pruc3KCdK3ySehe/iD9Z6pp bob@laptop"
BOB_SHA256 = "SHA256:7TwUnnNqARjcUtaLld0GwKPbn4cuDGdgRKhCTgMypd0"
BOB_MD5 = "ae:df:33:45:2b:0b:8e:5a:81:f0:71:88:ef:6c:40:70"


def other_key(byte: int) -> str:
    """Another well-formed ed25519 key: the type string and 32 key bytes, base64-encoded."""
    import base64
    import struct

    kind = b"ssh-ed25519"
    blob = struct.pack(">I", len(kind)) + kind + struct.pack(">I", 32) + bytes([byte]) * 32
    return f"ssh-ed25519 {base64.b64encode(blob).decode()}"


class SshKeyServiceTests(MarketplaceTestCase):
    def test_it_fingerprints_a_key_as_openssh_does(self) -> None:
        key = add_ssh_key(user=self.bob, public_key=BOB_KEY)
        assert (key.fingerprint_sha256, key.fingerprint_md5) == (BOB_SHA256, BOB_MD5)
        assert key.fingerprint_sha512.startswith("SHA512:")
        assert (key.name, key.type) == ("bob@laptop", "ssh-ed25519")

    def test_it_refuses_a_malformed_or_repeated_key(self) -> None:
        add_ssh_key(user=self.bob, public_key=BOB_KEY)
        bad = [
            "",
            "ssh-ed25519",
            "ssh-dss AAAAB3NzaC1kc3M=",
            "ssh-ed25519 not*base64",
            "ssh-rsa " + BOB_KEY.split()[1],  # the blob says ssh-ed25519
            BOB_KEY,  # already there
        ]
        for public_key in bad:
            with self.assertRaises(ValidationError, msg=public_key):
                add_ssh_key(user=self.bob, public_key=public_key)
        assert SshKey.objects.count() == 1


class ServiceProviderKeysApiTests(MarketplaceTestCase):
    @classmethod
    def setUpTestData(cls) -> None:
        super().setUpTestData()
        cls.resource = make_resource(cls.alice, cls.carol, cls.project_a1, cls.offering, name="alloc")
        cls.bob_key = add_ssh_key(user=cls.bob, public_key=BOB_KEY)
        cls.erin_key = add_ssh_key(user=cls.erin, public_key=other_key(1), name="erin-desktop")
        cls.dave_key = add_ssh_key(user=cls.dave, public_key=other_key(2))
        cls.provider = ServiceProvider.objects.get(customer=cls.provider_p)

    def keys_path(self, provider: ServiceProvider | None = None) -> str:
        return f"/api/marketplace-service-providers/{(provider or self.provider).uuid.hex}/keys/"

    def test_it_lists_the_keys_of_the_consumer_project_members(self) -> None:
        response = self.as_user(self.carol).get(self.keys_path())
        assert response.status_code == 200
        rows = response.json()
        assert [row["uuid"] for row in rows] == [self.bob_key.uuid.hex, self.erin_key.uuid.hex]
        assert rows[0] == {
            "uuid": self.bob_key.uuid.hex,
            "name": "bob@laptop",
            "public_key": BOB_KEY,
            "fingerprint_md5": BOB_MD5,
            "fingerprint_sha256": BOB_SHA256,
            "fingerprint_sha512": self.bob_key.fingerprint_sha512,
            "user_uuid": self.bob.uuid.hex,
            "is_shared": False,
            "type": "ssh-ed25519",
        }
        assert response["X-Result-Count"] == "2"

    def test_it_filters_orders_pages_and_counts(self) -> None:
        client = self.as_user(self.oscar)  # offering manager of O
        by_user = client.get(self.keys_path(), {"user_uuid": str(self.erin.uuid)}).json()
        assert [row["uuid"] for row in by_user] == [self.erin_key.uuid.hex]
        by_print = client.get(self.keys_path(), {"fingerprint_sha256": BOB_SHA256}).json()
        assert [row["user_uuid"] for row in by_print] == [self.bob.uuid.hex]
        named = client.get(self.keys_path(), {"o": "-name"}).json()
        assert [row["name"] for row in named] == ["erin-desktop", "bob@laptop"]
        page = client.get(self.keys_path(), {"page_size": 1, "page": 2})
        assert [row["uuid"] for row in page.json()] == [self.erin_key.uuid.hex]
        assert 'rel="prev"' in page["Link"]
        head = client.head(self.keys_path())
        assert (head.status_code, head["X-Result-Count"]) == (200, "2")
        assert client.get(self.keys_path(), {"user_uuid": "nope"}).status_code == 400

    def test_it_forgets_the_members_once_the_allocation_is_terminated(self) -> None:
        order = order_services.terminate_resource(resource=self.resource, user=self.alice)
        order_services.approve_order_by_provider(order=order, user=self.carol)
        order_services.complete_order(order=order, user=self.carol)
        assert self.as_user(self.carol).get(self.keys_path()).json() == []

    def test_it_shows_nothing_of_other_providers_consumers(self) -> None:
        zed = make_user("zed")
        other = make_customer("Provider Q", owner=zed)
        make_offering(other, name="Offering Q")
        provider_q = ServiceProvider.objects.get(customer=other)
        response = self.as_user(zed).get(self.keys_path(provider_q))
        assert (response.status_code, response.json()) == (200, [])

    def test_it_refuses_consumers_and_outsiders(self) -> None:
        for user in (self.alice, self.bob, self.erin, self.dave):
            assert self.as_user(user).get(self.keys_path()).status_code == 403, user.username
        assert self.as_user(None).get(self.keys_path()).status_code == 401
        assert self.as_user(self.staff).get(self.keys_path()).status_code == 200
        missing = "/api/marketplace-service-providers/00000000000000000000000000000000/keys/"
        assert self.as_user(self.carol).get(missing).status_code == 404

    def test_it_runs_the_same_queries_for_one_key_and_for_all(self) -> None:
        client = self.as_user(self.carol)
        client.get(self.keys_path())  # warm up the token lookup
        counts = []
        for size in (1, 50):
            with CaptureQueriesContext(connection) as queries:
                rows = client.get(self.keys_path(), {"page_size": size}).json()
            counts.append((len(queries), len(rows)))
        assert counts[1][0] <= counts[0][0], counts  # a first page with room left is not counted
        assert (counts[0][1], counts[1][1]) == (1, 2)
