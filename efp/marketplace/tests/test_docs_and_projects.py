import re

from django.test import TestCase

from efp.marketplace.tests.base import MarketplaceTestCase
from efp.structure.models import Project


class ApiDocsTests(TestCase):
    def test_it_serves_the_schema(self) -> None:
        response = self.client.get("/api/schema/?format=json")
        assert response.status_code == 200
        assert "/api/marketplace-orders/" in response.json()["paths"]

    def test_it_serves_swagger_ui_from_our_own_static_files(self) -> None:
        response = self.client.get("/api/docs/")
        assert response.status_code == 200
        html = response.content.decode()
        assert not re.search(r"(src|href)=\"https?://", html), "no asset may come from a CDN"
        scripts = re.findall(r'src="(/static/[^"]+\.js)"', html)
        assert any("swagger-ui-bundle" in src for src in scripts), scripts
        for src in scripts:
            asset = self.client.get(src)
            assert asset.status_code == 200, src


class ProjectDatesTests(MarketplaceTestCase):
    def test_it_refuses_a_project_that_ends_before_it_starts(self) -> None:
        response = self.as_user(self.staff).post(
            "/api/projects/",
            {
                "customer": f"http://testserver/api/customers/{self.org_a.uuid.hex}/",
                "name": "Backwards",
                "start_date": "2027-05-01",
                "end_date": "2027-04-30",
            },
            format="json",
        )
        assert response.status_code == 400
        assert response.json() == {"end_date": ["The end date must not be before the start date."]}
        assert not Project.objects.filter(name="Backwards").exists()
