"""What the site agent asks of an offering besides orders (issue 19): whether a backend id was ever used,
and its project service and course accounts (none here), through Waldur's SDK.

carol owns provider P and its offerings O and B; oscar manages O; alice's resource `alpha` at O has the
account hpc_alpha; dave is an outsider.
"""

from __future__ import annotations

from typing import Any

from waldur_api_client.api.marketplace_provider_offerings import (
    marketplace_provider_offerings_check_unique_backend_id,
    marketplace_provider_offerings_list_course_accounts_list,
    marketplace_provider_offerings_list_project_service_accounts_list,
)
from waldur_api_client.models import CheckUniqueBackendIDRequest

from efp.marketplace.models import Resource
from efp.marketplace.states import ResourceState
from efp.marketplace.tests.base import MarketplaceTestCase
from efp.marketplace.tests.factories import make_resource
from efp.marketplace.tests.test_site_agent_api import sdk, status_of


class AgentOfferingActionTests(MarketplaceTestCase):
    @classmethod
    def setUpTestData(cls) -> None:
        super().setUpTestData()
        alpha = make_resource(cls.alice, cls.carol, cls.project_a1, cls.offering, name="alpha")
        Resource.objects.filter(pk=alpha.pk).update(backend_id="hpc_alpha", state=ResourceState.TERMINATED)

    def unique(self, user: Any, backend_id: str, everywhere: bool = False, offering: Any = None) -> bool:
        answer = marketplace_provider_offerings_check_unique_backend_id.sync(
            uuid=(offering or self.offering).uuid,
            client=sdk(user),
            body=CheckUniqueBackendIDRequest(backend_id=backend_id, check_all_offerings=everywhere),
        )
        return answer.is_unique

    def test_it_says_whether_a_backend_id_was_ever_used(self) -> None:
        assert self.unique(self.oscar, "hpc_alpha") is False  # terminated, but its account name stays used
        assert self.unique(self.oscar, "hpc_beta") is True
        assert self.unique(self.carol, "hpc_alpha", offering=self.basic) is True
        assert self.unique(self.carol, "hpc_alpha", everywhere=True, offering=self.basic) is False

    def test_it_answers_only_the_offerings_provider(self) -> None:
        call = marketplace_provider_offerings_check_unique_backend_id.sync
        body = CheckUniqueBackendIDRequest(backend_id="x")
        assert status_of(call, uuid=self.offering.uuid, client=sdk(self.alice), body=body) == 404
        assert status_of(call, uuid=self.offering.uuid, client=sdk(self.dave), body=body) == 404

    def test_it_lists_no_service_or_course_accounts(self) -> None:
        for listing in (
            marketplace_provider_offerings_list_project_service_accounts_list,
            marketplace_provider_offerings_list_course_accounts_list,
        ):
            assert listing.sync(uuid=self.offering.uuid, client=sdk(self.oscar)) == []
            assert status_of(listing.sync, uuid=self.offering.uuid, client=sdk(self.dave)) == 404
