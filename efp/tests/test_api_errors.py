"""Under /api/ every answer is JSON, the errors Django answers itself included; the GUI keeps its pages."""

from __future__ import annotations

import json

from django.test import RequestFactory, TestCase, override_settings

from efp import urls
from efp.urls import server_error


class ApiErrorTests(TestCase):
    def test_it_answers_json_for_a_path_no_route_serves(self) -> None:
        for path in ("/api/component-user-usage-limits-nowhere/?resource_uuid=x", "/api/nothing-here/"):
            response = self.client.get(path)
            assert response.status_code == 404
            assert response["Content-Type"] == "application/json"
            assert json.loads(response.content) == {"detail": "Not found."}

    @override_settings(DEBUG=True)
    def test_it_answers_json_for_a_path_no_route_serves_in_debug_mode_too(self) -> None:
        # Django's debug page would be HTML; the site agent would then mark the allocation erred with it.
        for path in ("/api/nothing/at-all/", "/api/nothing-here/", "/api-auth/nothing/"):
            response = self.client.get(path)
            assert (response.status_code, response["Content-Type"]) == (404, "application/json"), path
            assert json.loads(response.content) == {"detail": "Not found."}
        gui = self.client.get("/nothing-here/")
        assert (gui.status_code, gui["Content-Type"].startswith("text/html")) == (404, True)

    def test_it_answers_json_for_an_action_no_route_serves(self) -> None:
        response = self.client.post("/api/marketplace-resources/0f0f/pull/")
        assert (response.status_code, json.loads(response.content)) == (404, {"detail": "Not found."})

    def test_it_answers_json_for_a_host_it_does_not_serve(self) -> None:
        response = self.client.get("/api/version/", HTTP_HOST="elsewhere.example")
        assert (response.status_code, response["Content-Type"]) == (400, "application/json")
        assert json.loads(response.content) == {"detail": "Bad request."}

    def test_it_answers_json_when_the_server_fails(self) -> None:
        assert urls.handler500 is server_error  # what Django calls on an unhandled exception
        response = server_error(RequestFactory().get("/api/marketplace-orders/"))
        assert (response.status_code, response["Content-Type"]) == (500, "application/json")
        assert json.loads(response.content) == {"detail": "A server error occurred."}

    def test_it_keeps_the_gui_pages(self) -> None:
        response = self.client.get("/nothing-here/")
        assert response.status_code == 404
        assert response["Content-Type"].startswith("text/html")
        assert server_error(RequestFactory().get("/my/orders/"))["Content-Type"].startswith("text/html")
