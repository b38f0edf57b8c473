"""The site agent's per-member sync report (issue 19: `set_membership_sync_statuses`), through Waldur's SDK.

carol owns provider P and its offering O, which oscar manages; alice's resource `alpha` at O is used by
her project's bob (account bob_hpc at O) and erin; dave is an outsider.
"""

from __future__ import annotations

from typing import Any

from django.urls import reverse
from waldur_api_client.api.marketplace_provider_resources import (
    marketplace_provider_resources_set_membership_sync_statuses as report_call,
)
from waldur_api_client.models import (
    MemberSyncStatusReportRequest,
    MemberSyncStatusReportResult,
)

from efp.marketplace.models import MemberSyncStatus, Offering
from efp.marketplace.services.offering_users import create_offering_user
from efp.marketplace.tests.base import MarketplaceTestCase
from efp.marketplace.tests.factories import make_resource
from efp.marketplace.tests.test_site_agent_api import sdk, status_of


class MemberSyncReportTests(MarketplaceTestCase):
    @classmethod
    def setUpTestData(cls) -> None:
        super().setUpTestData()
        cls.alpha = make_resource(cls.alice, cls.carol, cls.project_a1, cls.offering, name="alpha")
        create_offering_user(actor=cls.carol, offering=cls.offering, user=cls.bob, username="bob_hpc")

    def opt_in(self) -> None:
        Offering.objects.filter(pk=self.offering.pk).update(
            plugin_options={"enable_membership_sync_status": True}
        )

    def report(self, user: Any, statuses: list[dict[str, Any]]) -> Any:
        return report_call.sync_detailed(
            self.alpha.uuid,
            client=sdk(user),
            body=MemberSyncStatusReportRequest.from_dict({"statuses": statuses}),
        )

    def stored(self) -> set[tuple[str, str, str]]:
        rows = MemberSyncStatus.objects.filter(resource=self.alpha).select_related("user")
        return {(row.user.username, row.role_name, row.state) for row in rows}

    def test_an_offering_that_did_not_opt_in_refuses_reports(self) -> None:
        answer = self.report(self.oscar, [{"scope_type": "resource", "role_name": "member", "state": "synced",
                                           "username": "bob_hpc"}])  # fmt: skip
        assert answer.status_code == 409
        assert "enable_membership_sync_status" in answer.parsed.detail
        assert not MemberSyncStatus.objects.exists()

    def test_each_report_replaces_the_last_and_echoes_whom_it_could_not_place(self) -> None:
        self.opt_in()
        answer = self.report(
            self.oscar,
            [
                {"scope_type": "resource", "role_name": "member", "state": "synced", "username": "bob_hpc"},
                {"scope_type": "resource", "role_name": "admin", "state": "pending",
                 "user_uuid": str(self.erin.uuid)},
                {"scope_type": "resource", "role_name": "member", "state": "error", "username": "ghost",
                 "message": "no such account"},
            ],
        )  # fmt: skip
        assert answer.status_code == 200
        assert isinstance(answer.parsed, MemberSyncStatusReportResult)
        assert (answer.parsed.stored, answer.parsed.skipped) == (2, ["ghost"])
        assert self.stored() == {("bob", "member", "synced"), ("erin", "admin", "pending")}

        answer = self.report(
            self.carol,
            [
                {
                    "scope_type": "resource",
                    "role_name": "member",
                    "state": "missing_in_idp",
                    "username": "bob_hpc",
                }
            ],
        )
        assert (answer.status_code, answer.parsed.stored) == (200, 1)
        assert self.stored() == {("bob", "member", "missing_in_idp")}

    def test_only_the_provider_reports_and_bad_reports_change_nothing(self) -> None:
        self.opt_in()
        entry = {"scope_type": "resource", "role_name": "member", "state": "synced", "username": "bob_hpc"}
        self.report(self.oscar, [entry])
        body = MemberSyncStatusReportRequest.from_dict({"statuses": [entry]})
        for outsider in (self.alice, self.dave):
            assert status_of(report_call.sync, self.alpha.uuid, client=sdk(outsider), body=body) == 404
        client = self.as_user(self.oscar)
        url = f"/api/marketplace-provider-resources/{self.alpha.uuid.hex}/set_membership_sync_statuses/"
        for body in (
            {"statuses": [{**entry, "state": "weird"}]},
            {"statuses": [{"scope_type": "resource", "role_name": "member", "state": "synced"}]},
            {"statuses": "bob"},
            {},
        ):
            answer = client.post(url, body, format="json")
            assert answer.status_code == 400, (body, answer.content)
            assert "statuses" in answer.json(), answer.json()
        assert self.stored() == {("bob", "member", "synced")}

    def test_both_sides_see_on_the_allocation_page_what_reached_the_backend(self) -> None:
        self.opt_in()
        self.report(
            self.oscar,
            [
                {"scope_type": "resource", "role_name": "member", "state": "synced", "username": "bob_hpc"},
                {"scope_type": "resource", "role_name": "admin", "state": "error",
                 "user_uuid": str(self.erin.uuid), "message": "LDAP timeout"},
            ],
        )  # fmt: skip
        for who, page in ((self.oscar, "resource"), (self.alice, "my-resource")):
            self.client.force_login(who)
            html = self.client.get(reverse(f"web:{page}", args=[self.alpha.uuid.hex])).content.decode()
            assert "At the backend" in html
            assert "member: Synced" in html and "admin: Error" in html and "LDAP timeout" in html

        Offering.objects.filter(pk=self.offering.pk).update(plugin_options={})
        self.client.force_login(self.oscar)
        html = self.client.get(reverse("web:resource", args=[self.alpha.uuid.hex])).content.decode()
        assert "At the backend" not in html
