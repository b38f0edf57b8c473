"""What one site-agent report costs: `set_usage` for the month's totals, then `set_user_usages` with the
site's users (waldur-site-agent 1.0.7 sends them in one call per component). 1,000 agents report 100,000
resources an hour (`make capacity`), so the statements and background tasks of a report do not grow with
its users."""

from __future__ import annotations

from django.db import connection
from django.test.utils import CaptureQueriesContext
from django_tasks_db.models import DBTaskResult

from efp.events.models import Event
from efp.events.tasks import dispatch_events
from efp.hooks.services import create_email_hook
from efp.marketplace.models import ComponentUsage, ComponentUserUsage
from efp.marketplace.tests.base import MarketplaceTestCase
from efp.marketplace.tests.factories import make_resource

AGENT = "waldur-site-agent-report/1.0.7"


class AgentReportCostTests(MarketplaceTestCase):
    @classmethod
    def setUpTestData(cls) -> None:
        super().setUpTestData()
        # Carol's site agent reports Alice's allocation on the cluster.
        cls.resource = make_resource(cls.alice, cls.carol, cls.project_a1, cls.offering)

    def report_totals(self, cpu: str, gpu: str) -> tuple[int, int]:
        """The agent's set_usage: (statements, tasks queued)."""
        tasks = DBTaskResult.objects.count()
        body = {
            "resource": self.resource.uuid.hex,
            "usages": [{"type": "cpu", "amount": cpu}, {"type": "gpu", "amount": gpu}],
        }
        with CaptureQueriesContext(connection) as sql:
            response = self.as_user(self.carol).post(
                "/api/marketplace-component-usages/set_usage/", body, format="json", HTTP_USER_AGENT=AGENT
            )
        assert response.status_code == 201, response.content
        return len(sql), DBTaskResult.objects.count() - tasks

    def report_users(self, people: int, hours: int) -> tuple[int, int]:
        """The agent's set_user_usages for `people` site users: (statements, tasks queued)."""
        cpu = ComponentUsage.objects.get(resource=self.resource, component__type="cpu")
        tasks = DBTaskResult.objects.count()
        body = {"usages": [{"username": f"user{n:03d}", "usage": f"{hours + n}"} for n in range(people)]}
        with CaptureQueriesContext(connection) as sql:
            response = self.as_user(self.carol).post(
                f"/api/marketplace-component-usages/{cpu.uuid.hex}/set_user_usages/", body, format="json",
                HTTP_USER_AGENT=AGENT,
            )  # fmt: skip
        assert response.status_code == 201, response.content
        return len(sql), DBTaskResult.objects.count() - tasks

    def test_a_report_of_two_components_queues_one_dispatch(self) -> None:
        first = self.report_totals("10", "1")  # creates the month's records
        again = self.report_totals("12", "2")  # what the agent sends every hour after that
        assert first[1] == again[1] == 1, (first, again)
        assert again[0] <= 16, again  # 16 on SQLite, 11 on PostgreSQL

    def test_the_cost_of_per_user_usage_does_not_grow_with_the_users(self) -> None:
        self.report_totals("100", "1")
        first_20 = self.report_users(20, hours=1)  # every row new
        again_20 = self.report_users(20, hours=2)  # every row changed
        again_80 = self.report_users(80, hours=3)  # 20 changed, 60 new
        # No dispatch task: nothing acts on a user's row (a month's total has its own event) unless a hook
        # lists the type (then one per call: test_every_value_written_is_still_an_event_and_is_dispatched).
        assert first_20[1] == again_20[1] == again_80[1] == 0
        # 19 statements on SQLite, 14 on PostgreSQL; a statement per user would be 50 and more.
        assert again_80[0] <= again_20[0] + 1 <= 21, (first_20, again_20, again_80)

    def test_every_value_written_is_still_an_event_and_is_dispatched(self) -> None:
        create_email_hook(
            user=self.carol, email="carol@example.org", event_types=["marketplace_component_usage_reported"]
        )
        self.report_totals("100", "1")
        before = Event.objects.count()
        self.report_users(20, hours=1)
        self.report_users(20, hours=1)  # the same values again: nothing written, no event
        written = Event.objects.order_by("pk")[before:]
        assert [e.context["username"] for e in written] == [f"user{n:03d}" for n in range(20)]
        assert ComponentUserUsage.objects.filter(component_usage__resource=self.resource).count() == 20
        task = (
            DBTaskResult.objects.filter(task_path__endswith="dispatch_events").order_by("enqueued_at").last()
        )
        assert task is not None
        [uuids] = task.args_kwargs["args"]
        assert dispatch_events.call(uuids) == 20
