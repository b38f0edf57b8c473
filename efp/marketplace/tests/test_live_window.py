"""The live window stored on each resource (`live_from`, `live_until`: the usage coverage rule's, see
`coverage.py`) agrees with the one the resource events tell, as coverage.py derived it before migration 0013:
after a story of transitions written by the services, and after the migration's backfill of rows that
predate it (bulk-loaded ones without events included)."""

from __future__ import annotations

import datetime
import importlib
from typing import Any

import time_machine
from django.apps import apps
from django.db.models import Case, Exists, F, OuterRef, Q, QuerySet, Subquery, When
from django.db.models.functions import Coalesce

from efp.marketplace.models import Resource, ResourceEvent
from efp.marketplace.services import orders as order_services
from efp.marketplace.services import resources as resource_services
from efp.marketplace.states import ResourceState
from efp.marketplace.tests.base import MarketplaceTestCase
from efp.marketplace.tests.factories import make_order, make_resource, plan_of

backfill = importlib.import_module("efp.marketplace.migrations.0016_resource_live_window").backfill


def at(month: int, day: int) -> Any:
    return time_machine.travel(datetime.datetime(2026, month, day, 12, 0, tzinfo=datetime.UTC), tick=False)


def told_by_events(resources: QuerySet[Resource]) -> dict[str, tuple[Any, Any]]:
    """The window as the events tell it (coverage.py's `_windows` until migration 0013), by name."""
    events = ResourceEvent.objects.filter(resource_id=OuterRef("pk"))
    activated = Exists(events.filter(new_state=ResourceState.OK)) | (
        ~Exists(events) & ~Q(state=ResourceState.CREATING)
    )
    terminated = events.filter(new_state=ResourceState.TERMINATED).order_by("created", "pk").values("created")
    told = resources.annotate(
        told_from=Case(When(activated, then=F("created"))),
        told_until=Coalesce(
            Subquery(terminated[:1]), Case(When(state=ResourceState.TERMINATED, then=F("modified")))
        ),
    )
    return {r.name: (r.told_from, r.told_until) for r in told}


def stored(resources: QuerySet[Resource]) -> dict[str, tuple[Any, Any]]:
    return {r.name: (r.live_from, r.live_until) for r in resources}


class LiveWindowTests(MarketplaceTestCase):
    def story(self) -> None:
        """carol's offering O (Slurm) sells alice six allocations, each with a different life."""
        alice, carol, project, offering = self.alice, self.carol, self.project_a1, self.offering
        with at(1, 10):
            steady = make_resource(alice, carol, project, offering, name="steady")
        with at(2, 10):
            resource_services.set_resource_erred(resource=steady, user=carol, error_message="node down")
        with at(2, 12):
            resource_services.set_resource_ok(resource=steady, user=carol)  # a second activation
        with at(3, 1):
            gone = make_resource(alice, carol, project, offering, name="gone")
        with at(4, 5):
            order = order_services.terminate_resource(resource=gone, user=alice)
            order_services.approve_order_by_provider(order=order, user=carol)
            order.refresh_from_db()
            if order.state != "done":
                order_services.complete_order(order=order, user=carol)
        with at(1, 20):
            retried = make_order(alice, project, offering, name="retried")
            order_services.approve_order_by_provider(order=retried, user=carol)
            retried.refresh_from_db()
            assert retried.resource is not None
            resource_services.set_resource_backend_id(
                resource=retried.resource, user=carol, backend_id="acc1"
            )
            order_services.fail_order(order=retried, user=carol, error_message="quota service down")
        with at(2, 1):
            order_services.retry_order(order=retried, user=carol)
        with at(2, 2):
            order_services.complete_order(order=retried, user=carol)
        with at(1, 25):
            failed = make_order(alice, project, offering, name="failed")
            order_services.approve_order_by_provider(order=failed, user=carol)
            order_services.fail_order(order=failed, user=carol, error_message="no such account")
            rejected = make_order(alice, project, offering, name="rejected")
            order_services.reject_order_by_provider(order=rejected, user=carol, comment="no budget")
            pending = make_order(alice, project, offering, name="pending")
            order_services.approve_order_by_provider(order=pending, user=carol)

    def test_it_keeps_the_window_the_events_tell_through_every_transition(self) -> None:
        self.story()
        resources = Resource.objects.all()
        windows = stored(resources)
        assert windows == told_by_events(resources)
        january, march = (
            datetime.datetime(2026, 1, 10, 12, tzinfo=datetime.UTC),
            datetime.datetime(2026, 3, 1, 12, tzinfo=datetime.UTC),
        )
        assert windows["steady"] == (january, None)  # an error and a second activation change nothing
        assert windows["gone"] == (march, datetime.datetime(2026, 4, 5, 12, tzinfo=datetime.UTC))
        assert windows["retried"] == (datetime.datetime(2026, 1, 20, 12, tzinfo=datetime.UTC), None)
        # A failed creation stays Erred (Waldur: it may be retried), a rejected one is Terminated.
        assert windows["failed"] == (None, None)
        assert windows["rejected"][0] is None and windows["rejected"][1] is not None
        assert windows["pending"] == (None, None)

    def test_it_backfills_the_window_the_events_tell(self) -> None:
        self.story()
        plan = plan_of(self.offering)
        with at(1, 5):  # rows bulk-loaded without events: live unless still Creating
            for name, state in (("loaded", "OK"), ("loaded-ended", "Terminated"), ("loaded-new", "Creating")):
                Resource.objects.create(
                    name=name, state=state, project=self.project_a1, offering=self.offering, plan=plan
                )
        Resource.objects.update(live_from=None, live_until=None)  # as before migration 0013
        backfill(apps, None)
        resources = Resource.objects.all()
        windows = stored(resources)
        assert windows == told_by_events(resources)
        assert windows["loaded"][0] is not None and windows["loaded-ended"][1] is not None
        assert windows["loaded-new"] == (None, None)
        assert windows["gone"][1] == datetime.datetime(2026, 4, 5, 12, tzinfo=datetime.UTC)
