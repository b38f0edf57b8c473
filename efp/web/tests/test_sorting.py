"""Every list sorts by its column headers (`?o=`), says how it is sorted (aria-sort), and keeps the choice."""

from __future__ import annotations

import datetime
import re
from decimal import Decimal
from unittest.mock import patch

import time_machine
from django.test import override_settings

from efp.events.models import Event
from efp.hooks.models import WebhookDelivery
from efp.hooks.services import create_web_hook
from efp.marketplace.models import Order
from efp.marketplace.services import orders as order_services
from efp.marketplace.services.corrections import correct_usage
from efp.marketplace.services.usage import UserUsageItem
from efp.marketplace.services.user_usage import set_user_usages
from efp.marketplace.tests.factories import make_order, make_project
from efp.notifications.models import Group, Notification
from efp.structure.roles import Role
from efp.structure.services import grant_customer_role
from efp.web.tests.base import WebTestCase
from efp.web.tests.test_reports import MATRIX, RANGE, ReportPagesTestCase, matrix_names
from efp.web.views.common import paginate

NAMES = re.compile(r'aria-label="Expand ([^"]+)"')
ORDERS = re.compile(r'<td data-label="Order"><a href="[^"]+">([^<]+)</a>')


class SortingTests(WebTestCase):
    def test_it_sorts_the_provider_resources_by_a_header_and_remembers_it(self) -> None:
        for name in ("bravo", "alpha", "charlie"):
            self.resource(name)
        client = self.login(self.carol)
        html = client.get("/provider/resources/").content.decode()
        assert NAMES.findall(html) == ["alpha", "bravo", "charlie"]
        assert '<th scope="col" aria-sort="ascending"><a class="sort" href="?o=-name">Name' in html
        assert (
            '<a class="sort" href="?o=created">Created<span class="visually-hidden">, sort ascending' in html
        )
        html = client.get("/provider/resources/?o=-name").content.decode()
        assert NAMES.findall(html) == ["charlie", "bravo", "alpha"]
        assert 'aria-sort="descending"' in html
        # Back to the list (or filtering it) keeps the choice, per list.
        assert NAMES.findall(client.get("/provider/resources/").content.decode()) == [
            "charlie",
            "bravo",
            "alpha",
        ]
        assert NAMES.findall(client.get("/provider/resources/?q=a").content.decode()) == [
            "charlie",
            "bravo",
            "alpha",
        ]
        assert NAMES.findall(self.login(self.alice).get("/my/resources/").content.decode()) == [
            "alpha",
            "bravo",
            "charlie",
        ]
        # A column that is not sortable is ignored: the remembered choice stays.
        assert NAMES.findall(client.get("/provider/resources/?o=password").content.decode())[0] == "charlie"

    def test_it_lists_all_orders_newest_first_and_sorts_them_by_name(self) -> None:
        for name in ("first", "second", "third"):
            make_order(self.alice, self.project_a1, self.offering, name=name)
        client = self.login(self.alice)
        html = client.get("/my/orders/").content.decode()
        table = html[html.index('id="all"') :]
        assert ORDERS.findall(table) == ["third", "second", "first"]
        assert 'aria-sort="descending"><a class="sort" href="?o=created">Created (by)' in table
        table = client.get("/my/orders/?o=order").content.decode()
        assert ORDERS.findall(table[table.index('id="all"') :]) == ["first", "second", "third"]
        provider = self.login(self.carol).get("/provider/orders/?filtered=1&o=-order").content.decode()
        assert ORDERS.findall(provider) == ["third", "second", "first"]


TEAM = re.compile(r'<span class="sub">(\w+)</span></th>\s*<td data-label="Role">')
PROJECTS = re.compile(r'<th scope="row"><a href="/projects/[0-9a-f]+/">([^<]+)</a></th>')
DELIVERIES = re.compile(r'<td data-label="Event">([\w.]+)<span')


def sorted_by(html: str, label: str) -> str:
    """The aria-sort of the header with this label ("" when the list is not sorted by it)."""
    found = re.search(
        r'<th scope="col"(?: class="\w+")?(?: aria-sort="(\w+)")?><a class="sort" href="[^"]*">'
        + re.escape(label)
        + "<",
        html,
    )
    assert found, label
    return found.group(1) or ""


class TeamSortingTests(WebTestCase):
    def test_it_sorts_the_project_team_and_remembers_it(self) -> None:
        client = self.login(self.alice)
        page = f"/projects/{self.project_a1.uuid.hex}/"
        assert TEAM.findall(client.get(f"{page}?team=user").content.decode()) == ["bob", "erin"]
        html = client.get(f"{page}?team=-user").content.decode()
        assert TEAM.findall(html) == ["erin", "bob"]
        assert sorted_by(html, "User") == "descending" and sorted_by(html, "Role") == ""
        assert TEAM.findall(client.get(f"{page}?team=nonsense").content.decode()) == ["erin", "bob"]
        assert TEAM.findall(self.login(self.erin).get(page).content.decode()) == ["erin", "bob"]  # role

    def test_it_sorts_the_organisation_projects_and_team_each_on_its_own(self) -> None:
        make_project(self.org_a, "Aardvark")
        grant_customer_role(customer=self.org_a, user=self.bob, role=Role.CUSTOMER_OWNER)
        client = self.login(self.alice)
        page = f"/organisations/{self.org_a.uuid.hex}/"
        html = client.get(page).content.decode()
        assert PROJECTS.findall(html) == ["Aardvark", "Project A1"]
        assert sorted_by(html, "Project") == "ascending"
        html = client.get(f"{page}?o=-project&team=-user").content.decode()
        assert PROJECTS.findall(html) == ["Project A1", "Aardvark"]
        assert TEAM.findall(html) == ["bob", "alice"]
        html = client.get(f"{page}?team=user").content.decode()  # the projects keep their own choice
        assert PROJECTS.findall(html) == ["Project A1", "Aardvark"]
        assert TEAM.findall(html) == ["alice", "bob"]
        assert sorted_by(html, "User") == "ascending" and sorted_by(html, "Project") == "descending"
        assert 'href="?team=-user">User' in html  # each header changes its own list only
        assert PROJECTS.findall(client.get(f"{page}?o=-password").content.decode())[0] == "Project A1"

    def test_it_sorts_the_organisations_and_remembers_it(self) -> None:
        grant_customer_role(customer=self.org_z, user=self.alice, role=Role.CUSTOMER_OWNER)
        client = self.login(self.alice)
        html = client.get("/organisations/").content.decode()
        assert ORGANISATIONS.findall(html) == ["Organisation A", "Organisation Z"]
        assert 'href="?o=-name" aria-current="true">Name' in html
        html = client.get("/organisations/?o=-name").content.decode()
        assert ORGANISATIONS.findall(html) == ["Organisation Z", "Organisation A"]
        assert (
            ORGANISATIONS.findall(client.get("/organisations/?o=nope").content.decode())[0]
            == "Organisation Z"
        )
        html = client.get("/organisations/?o=created").content.decode()
        assert ORGANISATIONS.findall(html) == ["Organisation A", "Organisation Z"]

    def test_it_sorts_the_allocation_pages_orders_and_team_each_on_its_own(self) -> None:
        alloc = self.resource("climate")
        update = order_services.update_resource_limits(resource=alloc, user=self.alice, limits={"storage": 7})
        create = Order.objects.filter(resource=alloc).exclude(pk=update.pk).get()
        page = f"/provider/resources/{alloc.uuid.hex}/"
        client = self.login(self.carol)

        def orders(html: str) -> list[str]:
            return re.findall(r'<a href="/provider/orders/([0-9a-f]+)/">\w+ order', html)

        html = client.get(page).content.decode()
        assert orders(html) == [update.uuid.hex, create.uuid.hex]  # newest first
        assert sorted_by(html, "Created (by)") == "descending"
        html = client.get(f"{page}?o=created&team=-person").content.decode()
        assert orders(html) == [create.uuid.hex, update.uuid.hex]
        assert ACCOUNTS.findall(html) == ["erin", "bob"]
        assert sorted_by(html, "Person") == "descending" and sorted_by(html, "Created (by)") == "ascending"
        html = client.get(f"{page}?team=person&o=-nothing").content.decode()
        assert ACCOUNTS.findall(html) == ["bob", "erin"]
        assert orders(html) == [create.uuid.hex, update.uuid.hex]  # remembered, the unknown one ignored


ACCOUNTS = re.compile(r'<tr><th scope="row">(\w+)</th><td data-label="Role">')
ORGANISATIONS = re.compile(r'<h2 id="org-[0-9a-f]+"><a href="[^"]+">([^<]+)</a>')


@override_settings(WEBHOOK_ALLOW_PRIVATE=True)
class DeliverySortingTests(WebTestCase):
    def test_it_sorts_a_hooks_deliveries_and_remembers_it(self) -> None:
        hook = create_web_hook(user=self.carol, destination_url="http://127.0.0.1:9/", event_groups=["users"])
        for number, event_type in enumerate(("b.second", "a.first", "c.third")):
            event = Event.objects.create(event_type=event_type, message="m")
            WebhookDelivery.objects.create(hook=hook, event=event, attempt_count=number)
        client = self.login(self.carol)
        page = f"/provider/hooks/{hook.uuid.hex}/"
        html = client.get(page).content.decode()
        assert DELIVERIES.findall(html) == ["c.third", "a.first", "b.second"]  # newest first
        assert sorted_by(html, "Delivery") == "descending"
        html = client.get(f"{page}?o=event").content.decode()
        assert DELIVERIES.findall(html) == ["a.first", "b.second", "c.third"]
        assert sorted_by(html, "Event") == "ascending"
        assert DELIVERIES.findall(client.get(f"{page}?o=-attempts").content.decode())[0] == "c.third"
        assert DELIVERIES.findall(client.get(f"{page}?o=x--y").content.decode())[0] == "c.third"


class ReportSortingTests(ReportPagesTestCase):
    def test_it_sorts_the_coverage_matrix_in_python_and_keeps_pages(self) -> None:
        client = self.login(self.carol)
        html = client.get(f"{MATRIX}?{RANGE}&o=resource").content.decode()
        names = matrix_names(html)
        assert names == sorted(names) and len(names) > 2
        assert sorted_by(html, "Resource") == "ascending"
        html = client.get(f"{MATRIX}?{RANGE}&o=-resource").content.decode()
        assert matrix_names(html) == sorted(names, reverse=True)
        assert sorted_by(html, "Resource") == "descending"
        assert matrix_names(client.get(f"{MATRIX}?{RANGE}&o=bogus").content.decode()) == names[::-1]
        with patch(
            "efp.web.views.reports.paginate", lambda request, rows: paginate(request, rows, per_page=2)
        ):
            first = matrix_names(client.get(f"{MATRIX}?{RANGE}").content.decode())
            second = matrix_names(client.get(f"{MATRIX}?{RANGE}&page=2").content.decode())
        assert first + second == sorted(names, reverse=True)[:4]

    def test_it_sorts_the_dashboards_usage_summary(self) -> None:
        client = self.login(self.carol)
        html = client.get("/provider/?o=component").content.decode()
        names = SPARKS.findall(html)
        assert len(names) > 1 and names == sorted(names)
        assert sorted_by(html, "Component") == "ascending"
        html = client.get("/provider/?o=-component").content.decode()
        assert SPARKS.findall(html) == names[::-1] and sorted_by(html, "Component") == "descending"
        assert SPARKS.findall(client.get("/provider/?o=svg").content.decode()) == names[::-1]

    def test_it_sorts_the_usage_report_rows_on_both_sides(self) -> None:
        for user, url in ((self.carol, "/provider/usage-report/"), (self.alice, "/my/usage-report/")):
            client = self.login(user)
            html = client.get(f"{url}?{RANGE}&o=-month").content.decode()
            months = MONTHS.findall(html)
            assert months == sorted(months, reverse=True) and months[0] != months[-1], user
            assert sorted_by(html, "Month") == "descending"
            html = client.get(f"{url}?{RANGE}").content.decode()
            assert MONTHS.findall(html) == months  # remembered
            html = client.get(f"{url}?{RANGE}&o=month").content.decode()
            assert MONTHS.findall(html) == sorted(months)
            costs = [
                Decimal(c.replace(",", ""))
                for c in COSTS.findall(client.get(f"{url}?{RANGE}&o=-cost").content.decode())
            ]
            assert len(set(costs)) > 1 and costs == sorted(costs, reverse=True), user
            assert client.get(f"{url}?{RANGE}&o=--cost").status_code == 200


SUBJECTS = re.compile(r'<p class="notification-subject">(?:<strong class="tag">New</strong> )?([^<]+)</p>')


class NotificationSortingTests(WebTestCase):
    def test_it_sorts_my_notifications_and_remembers_it(self) -> None:
        for number, (subject, group) in enumerate(
            (("Bravo", Group.USAGE), ("Alpha", Group.ROLES), ("Charlie", Group.ORDERS))
        ):
            Notification.objects.create(
                user=self.alice, kind="k", group=group, subject=subject, dedupe_key=f"k{number}"
            )
        client = self.login(self.alice)
        html = client.get("/notifications/").content.decode()
        assert SUBJECTS.findall(html) == ["Charlie", "Alpha", "Bravo"]  # newest first
        assert 'aria-current="true">Date' in html
        html = client.get("/notifications/?o=subject").content.decode()
        assert SUBJECTS.findall(html) == ["Alpha", "Bravo", "Charlie"]
        assert (
            'href="?o=-subject" aria-current="true">Subject<span class="visually-hidden">, sort descending'
            in html
        )
        assert SUBJECTS.findall(client.get("/notifications/?unread=1").content.decode()) == [
            "Alpha",
            "Bravo",
            "Charlie",
        ]
        assert SUBJECTS.findall(client.get("/notifications/?o=-group").content.decode()) == [
            "Bravo",
            "Alpha",
            "Charlie",
        ]
        assert SUBJECTS.findall(client.get("/notifications/?o=html").content.decode())[0] == "Bravo"


CORRECTED = re.compile(r'<th scope="row">(\w+ \d{4})</th>\s*<td data-label="Component">')


@time_machine.travel(datetime.datetime(2026, 6, 15, 12, 0, tzinfo=datetime.UTC), tick=False)
class CorrectionSortingTests(WebTestCase):
    def test_it_sorts_the_corrections_of_a_resource_on_both_sides(self) -> None:
        alloc = self.resource("alloc")
        for month in (datetime.date(2026, 5, 1), datetime.date(2026, 1, 1)):
            [usage] = self.report(alloc, month=month, cpu="20")
            correct_usage(user=self.staff, usage=usage, amount=Decimal("1"), reason="counted twice")
        for user, url in ((self.carol, "/provider"), (self.alice, "/my")):
            client = self.login(user)
            page = f"{url}/resources/{alloc.uuid.hex}/usage/"
            html = client.get(page).content.decode()
            assert CORRECTED.findall(html) == ["January 2026", "May 2026"], user  # newest first
            assert sorted_by(html, "When") == "descending"
            html = client.get(f"{page}?o=-month").content.decode()
            assert CORRECTED.findall(html) == ["May 2026", "January 2026"], user
            assert sorted_by(html, "Month") == "descending"
            assert CORRECTED.findall(client.get(page).content.decode()) == ["May 2026", "January 2026"]
            html = client.get(f"{page}?o=month").content.decode()
            assert CORRECTED.findall(html) == ["January 2026", "May 2026"], user
            assert CORRECTED.findall(client.get(f"{page}?o=amount").content.decode())[0] == "January 2026"

    def test_it_sorts_the_users_of_a_month_beside_the_corrections(self) -> None:
        alloc = self.resource("alloc")
        [cpu] = self.report(alloc, cpu="1000")
        items = [UserUsageItem(username=n, usage=Decimal(a)) for n, a in (("anna", "5"), ("ben", "400"))]
        set_user_usages(user=self.staff, component_usage=cpu, items=items)
        client = self.login(self.alice)
        page = f"/my/resources/{alloc.uuid.hex}/usage/?component=cpu&month=2026-06"
        html = client.get(page).content.decode()
        assert USERS.findall(html) == ["anna", "ben"]
        assert sorted_by(html, "User") == "ascending" and sorted_by(html, "When") == "descending"
        html = client.get(f"{page}&users=-amount").content.decode()
        assert USERS.findall(html) == ["ben", "anna"]
        assert sorted_by(html, "Amount (core-hours)") == "descending"
        assert USERS.findall(client.get(f"{page}&users=share").content.decode()) == ["ben", "anna"]


USERS = re.compile(r'<tr><th scope="row">(\w+)</th><td data-label="Month">')
SPARKS = re.compile(r'<th scope="row">([^<]+)</th><td><svg')
MONTHS = re.compile(r'<td data-label="Month" class="nowrap">([\d-]+)</td>')
COSTS = re.compile(r'<td class="num" data-label="Cost">([\d.,]+)</td>')
