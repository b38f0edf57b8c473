import datetime
import re

from django.utils import timezone

from efp.marketplace.models import Resource
from efp.marketplace.services import orders as order_services
from efp.marketplace.tests.factories import make_order
from efp.web.tests.base import WebTestCase


def rows(html: str) -> list[str]:
    return re.findall(r'aria-label="Expand ([^"]+)"', html)


class WorkspaceAccessTests(WebTestCase):
    def test_it_forbids_the_workspace_to_consumers_and_outsiders(self) -> None:
        for user in (self.alice, self.bob, self.erin, self.dave):
            client = self.login(user)
            for path in ("/provider/", "/provider/resources/", "/provider/orders/"):
                assert client.get(path).status_code == 403, (user, path)

    def test_it_explains_the_refusal_in_the_page_layout(self) -> None:
        response = self.login(self.alice).get("/provider/resources/")
        html = response.content.decode()
        assert response.status_code == 403
        assert "You may not open this page" in html and "for users with a role in a service provider" in html
        assert ">Log out</button>" in html and "Service Provider</a>" not in html

    def test_it_opens_the_workspace_for_provider_users(self) -> None:
        for user in (self.carol, self.oscar, self.staff):
            response = self.login(user).get("/provider/resources/")
            assert response.status_code == 200, user
            html = response.content.decode()
            assert 'aria-label="Provider workspace"' in html
            assert ">Dashboard</a>" in html and ">Resources</a>" in html and ">Orders" in html

    def test_it_answers_404_for_another_providers_resource(self) -> None:
        theirs = self.resource("theirs", offering=self.offering_q, provider=self.quinn)
        client = self.login(self.carol)
        for suffix in ("usage/", "usage.csv", "report/", "backend-id/", "end-date/"):
            assert client.get(f"/provider/resources/{theirs.uuid.hex}/{suffix}").status_code == 404, suffix
        assert (
            client.post(f"/provider/resources/{theirs.uuid.hex}/backend-id/", {"backend_id": "x"}).status_code
            == 404
        )
        assert client.get("/provider/resources/not-a-uuid/usage/").status_code == 404

    def test_it_forbids_resource_pages_to_consumers(self) -> None:
        mine = self.resource()
        assert self.login(self.alice).get(f"/provider/resources/{mine.uuid.hex}/usage/").status_code == 403


class ResourceListTests(WebTestCase):
    def test_it_lists_my_resources_but_not_another_providers(self) -> None:
        self.resource("mine")
        self.resource("theirs", offering=self.offering_q, provider=self.quinn)
        html = self.login(self.carol).get("/provider/resources/").content.decode()
        assert rows(html) == ["mine"]

    def test_it_hides_terminated_resources_unless_asked(self) -> None:
        self.resource("alive")
        gone = self.resource("gone")
        order = order_services.terminate_resource(resource=gone, user=self.alice)
        order_services.approve_order_by_provider(order=order, user=self.carol)
        order_services.complete_order(order=order, user=self.carol)
        client = self.login(self.carol)
        assert rows(client.get("/provider/resources/").content.decode()) == ["alive"]
        assert rows(client.get("/provider/resources/?include_terminated=on").content.decode()) == [
            "alive",
            "gone",
        ]
        assert rows(client.get("/provider/resources/?state=Terminated").content.decode()) == ["gone"]

    def test_it_filters_by_offering_organisation_project_state_and_name(self) -> None:
        self.resource("slurm-one")
        make_order(self.alice, self.project_a1, self.offering, name="creating-one")
        client = self.login(self.carol)
        assert rows(client.get("/provider/resources/?state=OK").content.decode()) == ["slurm-one"]
        assert rows(client.get("/provider/resources/?q=creating").content.decode()) == ["creating-one"]
        url = f"/provider/resources/?offering={self.basic.uuid.hex}"
        assert rows(client.get(url).content.decode()) == []
        url = f"/provider/resources/?organisation={self.org_a.uuid.hex}&project=A1"
        assert rows(client.get(url).content.decode()) == ["creating-one", "slurm-one"]

    def test_it_filters_by_percent_of_a_limit(self) -> None:
        full = self.resource("full")  # storage limit 10
        self.resource("empty")
        self.report(full, storage=9)
        client = self.login(self.carol)
        assert rows(client.get("/provider/resources/?min_percent=90").content.decode()) == ["full"]
        assert rows(client.get("/provider/resources/?min_percent=95").content.decode()) == []
        # 0 % of a limit is still ">= 0 %"; a resource at 0 % is not dropped as if it had no limit.
        assert rows(client.get("/provider/resources/?min_percent=0").content.decode()) == ["empty", "full"]

    def test_it_filters_resources_missing_last_months_report(self) -> None:
        reported, silent = self.resource("reported"), self.resource("silent")
        last_month = (timezone.localdate().replace(day=1) - datetime.timedelta(days=1)).replace(day=1)
        # Live since 70 days ago: created then, and so its stored live window (coverage.py).
        since = timezone.now() - datetime.timedelta(days=70)
        Resource.objects.filter(pk__in=[reported.pk, silent.pk]).update(created=since, live_from=since)
        self.report(reported, month=last_month, cpu=5)
        url = f"/provider/resources/?no_report={last_month:%Y-%m}"
        assert rows(self.login(self.carol).get(url).content.decode()) == ["silent"]

    def test_it_filters_resources_ending_soon(self) -> None:
        soon, later = self.resource("soon"), self.resource("later")
        today = timezone.localdate()
        Resource.objects.filter(pk=soon.pk).update(end_date=today + datetime.timedelta(days=10))
        Resource.objects.filter(pk=later.pk).update(end_date=today + datetime.timedelta(days=90))
        assert rows(self.login(self.carol).get("/provider/resources/?ending_within=30").content.decode()) == [
            "soon"
        ]

    def test_it_shows_filter_errors_instead_of_failing(self) -> None:
        response = self.login(self.carol).get("/provider/resources/?min_percent=abc&no_report=13-2020")
        assert response.status_code == 200
        assert "Enter a whole number" in response.content.decode()

    def test_it_paginates_on_the_server(self) -> None:
        for i in range(27):
            make_order(self.alice, self.project_a1, self.offering, name=f"r{i:02d}")
        client = self.login(self.carol)
        first = client.get("/provider/resources/").content.decode()
        second = client.get("/provider/resources/?page=2").content.decode()
        assert len(rows(first)) == 25 and len(rows(second)) == 2
        assert "Page 1 of 2" in first

    def test_it_expands_a_row_into_usage_tiles(self) -> None:
        resource = self.resource("tiled")
        self.report(resource, cpu=120, storage=4)
        html = self.login(self.carol).get("/provider/resources/").content.decode()
        assert f'aria-controls="details-{resource.uuid.hex}" aria-label="Expand tiled"' in html
        details = html.split(f'id="details-{resource.uuid.hex}"')[1].split("</tr>")[0]
        assert '4.00 <span class="of">of 10</span> TB' in details
        assert "40 % of the limit" in details
        assert "This month: <strong>120.00 core-hours</strong>" in details
        assert "Last reported" in details and "by staff via API" in details

    def test_it_names_states_in_the_filter_as_the_table_does(self) -> None:
        self.resource("ok-one")
        html = self.login(self.carol).get("/provider/resources/").content.decode()
        assert 'value="OK"' in html and "> Active</label>" in html and "> Ok</label>" not in html
        assert '<span class="state state-ok">Active</span>' in html

    def test_it_shows_usage_bars_with_a_text_label(self) -> None:
        resource = self.resource("barred")
        self.report(resource, storage=11)
        html = self.login(self.carol).get("/provider/resources/").content.decode()
        assert "Storage: 11.00 / 10 TB · 110 % <strong>over</strong>" in html

    def test_it_offers_actions_and_disables_those_that_do_not_apply(self) -> None:
        self.resource("ok-one")
        make_order(self.alice, self.project_a1, self.offering, name="creating-one")
        html = self.login(self.carol).get("/provider/resources/").content.decode()
        creating = html.split('aria-label="Expand creating-one"')[1].split('class="details-row"')[0]
        ok = html.split('aria-label="Expand ok-one"')[1].split('class="details-row"')[0]
        assert re.search(r'<a role="menuitem"[^>]*>Report usage</a>', ok)
        assert re.search(r'aria-disabled="true"[^>]*>Report usage</span>', creating)
        assert "this one is Creating" in creating
        for label in ("Show usage", "Set backend ID", "Edit end date"):
            assert re.search(rf'<a role="menuitem"[^>]*>{label}</a>', ok), label

    def test_it_disables_what_a_reader_may_not_do_and_says_why(self) -> None:
        self.resource("read-only")
        html = self.login(self.rita).get("/provider/resources/").content.decode()
        for label in ("Report usage", "Set backend ID", "Edit end date"):
            assert re.search(rf'aria-disabled="true"[^>]*>{label}</span>', html), label
        assert re.search(r'<a role="menuitem"[^>]*>Show usage</a>', html)
        assert "owners and service managers may set the end date" in html
        assert "organisation owners and offering managers may report usage" in html


class BackendIdTests(WebTestCase):
    def test_it_sets_the_backend_id(self) -> None:
        resource = self.resource()
        client = self.login(self.carol)
        assert client.get(f"/provider/resources/{resource.uuid.hex}/backend-id/").status_code == 200
        response = client.post(
            f"/provider/resources/{resource.uuid.hex}/backend-id/", {"backend_id": "slurm_a1"}
        )
        assert response.status_code == 302
        resource.refresh_from_db()
        assert resource.backend_id == "slurm_a1"

    def test_it_returns_to_the_page_it_came_from(self) -> None:
        resource = self.resource()
        response = self.login(self.carol).post(
            f"/provider/resources/{resource.uuid.hex}/backend-id/",
            {"backend_id": "x", "next": "/provider/resources/?page=1"},
        )
        assert response["Location"] == "/provider/resources/?page=1"
        response = self.login(self.carol).post(
            f"/provider/resources/{resource.uuid.hex}/backend-id/",
            {"backend_id": "y", "next": "https://evil.example/"},
        )
        assert response["Location"] == "/provider/resources/"


class EndDateTests(WebTestCase):
    def test_it_sets_the_end_date(self) -> None:
        resource = self.resource()
        end = timezone.localdate() + datetime.timedelta(days=30)
        response = self.login(self.carol).post(
            f"/provider/resources/{resource.uuid.hex}/end-date/", {"end_date": end}
        )
        assert response.status_code == 302
        resource.refresh_from_db()
        assert resource.end_date == end
        assert resource.end_date_requested_by == self.carol

    def test_it_shows_the_services_error_beside_the_form(self) -> None:
        resource = self.resource()
        soon = timezone.localdate() + datetime.timedelta(days=2)
        response = self.login(self.carol).post(
            f"/provider/resources/{resource.uuid.hex}/end-date/", {"end_date": soon}
        )
        assert response.status_code == 400
        assert "7 days in advance" in response.content.decode()
        resource.refresh_from_db()
        assert resource.end_date is None

    def test_it_links_the_date_field_to_its_help_and_its_error(self) -> None:
        resource = self.resource()
        url = f"/provider/resources/{resource.uuid.hex}/end-date/"
        html = self.login(self.carol).get(url).content.decode()
        assert 'aria-describedby="id_end_date_helptext"' in html and 'id="id_end_date_helptext"' in html
        html = self.login(self.carol).post(url, {"end_date": "31.31.2026"}).content.decode()
        assert 'aria-describedby="id_end_date_helptext id_end_date_error"' in html
        assert 'id="id_end_date_error"><p class="field-error">Enter a date as YYYY-MM-DD, for example' in html

    def test_it_takes_the_date_as_iso_text_not_the_browsers_locale(self) -> None:
        resource = self.resource()
        url = f"/provider/resources/{resource.uuid.hex}/end-date/"
        client = self.login(self.carol)
        html = client.get(url).content.decode()
        assert 'type="date"' not in html  # Chromium would show mm/dd/yyyy
        assert 'placeholder="YYYY-MM-DD"' in html and 'pattern="\\d{4}-\\d{2}-\\d{2}"' in html
        assert client.post(url, {"end_date": "12/31/2099"}).status_code == 400
        resource.refresh_from_db()
        assert resource.end_date is None
        client.post(url, {"end_date": "2099-12-31"})
        resource.refresh_from_db()
        assert str(resource.end_date) == "2099-12-31"
        assert 'value="2099-12-31"' in client.get(url).content.decode()

    def test_it_refuses_a_reader(self) -> None:
        resource = self.resource()
        end = timezone.localdate() + datetime.timedelta(days=30)
        response = self.login(self.rita).post(
            f"/provider/resources/{resource.uuid.hex}/end-date/", {"end_date": end}
        )
        assert response.status_code == 403
        assert "permission" in response.content.decode()
        resource.refresh_from_db()
        assert resource.end_date is None


class ResourceStateWordsTests(WebTestCase):
    def test_it_says_a_resource_awaits_approval_while_its_create_order_waits(self) -> None:
        # bob (a member) asks: the order waits for alice, the owner; then for carol, the provider.
        order = make_order(self.bob, self.project_a1, self.offering, name="waiting-one")
        assert order.resource is not None and order.resource.state == "Creating"
        provider_html = self.login(self.carol).get("/provider/resources/").content.decode()
        consumer_html = self.login(self.alice).get("/my/resources/").content.decode()
        for html in (provider_html, consumer_html):
            assert '<span class="state state-creating">Awaiting approval</span>' in html
            assert ">Creating</span>" not in html
        order_services.approve_order_by_consumer(order=order, user=self.alice)
        order_services.approve_order_by_provider(order=order, user=self.carol)
        order.refresh_from_db()
        assert order.state == "executing"
        html = self.login(self.carol).get("/provider/resources/").content.decode()
        assert '<span class="state state-creating">Being set up</span>' in html
