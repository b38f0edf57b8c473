"""Web hardening: CSRF on every GUI form, a strict Content-Security-Policy without inline code, secure
cookies and HSTS outside debug mode, and `efp check --deploy` clean in production mode."""

from __future__ import annotations

import os
import re
import secrets
import subprocess
import sys
from pathlib import Path

from django.test import Client
from django.urls import URLPattern

from efp.accounts.services import issue_token
from efp.hooks import services as hook_services
from efp.hooks.models import WebHook, WebhookDelivery
from efp.marketplace.models import ComponentUsage, Order, Resource
from efp.marketplace.tests.factories import make_order
from efp.web import urls as web_urls
from efp.web.tests.base import WebTestCase

TEMPLATES = Path(__file__).resolve().parents[1] / "templates"
EFP = Path(sys.executable).with_name("efp")

# Every GUI URL, by name: the ones that change something on POST, and the ones that only show.
POST_ENDPOINTS = {
    "login", "logout", "create-token", "revoke-token", "resource-report", "resource-backend-id",
    "resource-end-date", "orders-bulk", "order-approve", "order-reject", "order-form", "my-order-approve",
    "my-order-reject",
    "my-order-cancel", "my-order-delete", "my-resource-limits", "my-resource-extend", "my-resource-terminate",
    "project-create", "organisation-team-add", "organisation-team-remove", "project-edit", "project-delete",
    "project-team-add", "project-team-remove", "organisation-team-end", "project-team-end",
    "notification-preferences", "notifications-read-all", "notification-read", "hook-create", "hook-test",
    "hook-active", "hook-delete", "hook-delivery-resend", "resource-correct", "offering-corrections",
    "usage-import", "resource-restore",
}  # fmt: skip
GET_ONLY = {
    "home", "profile", "dashboard", "resources", "resource-usage", "resource-usage-csv", "orders", "order",
    "catalogue", "offering", "my-orders", "my-order", "my-resources", "my-resource-usage",
    "my-resource-usage-csv", "organisations", "organisation", "project", "notifications", "notification-bell",
    "hooks", "hook", "coverage", "usage-report", "my-usage-report", "usage-import-template", "resource",
    "my-resource", "oidc-start", "oidc-callback",
}  # fmt: skip

INLINE_SCRIPT = re.compile(r"<script(?![^>]*\bsrc=)[^>]*>", re.IGNORECASE)
EVENT_HANDLER = re.compile(r"<[^>]*\son[a-z]+\s*=", re.IGNORECASE)
STYLE_ATTRIBUTE = re.compile(r"<[^>]*\sstyle\s*=", re.IGNORECASE)
STYLE_ELEMENT = re.compile(r"<style[\s>]", re.IGNORECASE)


def inline_code(html: str) -> list[str]:
    return [
        match.group(0)
        for pattern in (INLINE_SCRIPT, EVENT_HANDLER, STYLE_ATTRIBUTE, STYLE_ELEMENT)
        for match in pattern.finditer(html)
    ]


class CsrfTests(WebTestCase):
    def setUp(self) -> None:
        self.alloc = self.resource("alloc")
        self.order = make_order(self.alice, self.project_a1, self.offering, name="pending")
        self.hook = hook_services.create_web_hook(
            user=self.carol, destination_url="http://93.184.215.14/", event_groups=["users"]
        )
        self.delivery = hook_services.send_test(hook=self.hook, user=self.carol)

    def paths(self) -> dict[str, str]:
        """Every pattern of the GUI's URL conf, filled in; a new one must be classified above."""
        uuids = {  # by the first word of the URL name
            "order": self.order.uuid.hex, "my": self.order.uuid.hex, "resource": self.alloc.uuid.hex,
            "offering": self.offering.uuid.hex, "organisation": self.org_a.uuid.hex,
            "project": self.project_a1.uuid.hex, "hook": self.hook.uuid.hex,
        }  # fmt: skip
        paths = {}
        for pattern in web_urls.urlpatterns:
            assert isinstance(pattern, URLPattern)
            name = pattern.name or ""
            assert name in POST_ENDPOINTS | GET_ONLY, f"classify the new GUI URL {name!r} in this test"
            kind = name.split("-")[0]
            if name.startswith("my-resource"):
                kind = "resource"
            uuid = uuids.get(kind, self.offering.uuid.hex if name == "order-form" else self.alloc.uuid.hex)
            if name == "project-create":
                uuid = self.org_a.uuid.hex
            route = str(pattern.pattern).replace("<str:uuid>", uuid).replace("<str:grant>", "1")
            route = route.replace("<str:delivery>", self.delivery.uuid.hex)
            assert "<" not in route, f"fill in the parameters of {name!r} in this test"
            paths[name] = "/" + route
        assert set(paths) == POST_ENDPOINTS | GET_ONLY
        return paths

    def state(self) -> list[object]:
        return [
            list(Order.objects.values_list("state", "provider_rejection_comment").order_by("pk")),
            list(Resource.objects.values_list("state", "backend_id", "end_date").order_by("pk")),
            list(ComponentUsage.objects.values_list("usage").order_by("pk")),
            list(WebHook.objects.values_list("is_active", flat=True).order_by("pk")),
            WebhookDelivery.objects.count(),
            self.carol.auth_token.key if hasattr(self.carol, "auth_token") else None,
        ]

    def client_for(self, user: object) -> Client:
        client = Client(enforce_csrf_checks=True)
        client.force_login(user)  # type: ignore[arg-type]
        return client

    def test_it_refuses_a_post_without_the_token_on_every_gui_url(self) -> None:
        before = self.state()
        client = self.client_for(self.carol)
        body = {
            "comment": "<b>no</b>", "backend_id": "x", "end_date": "2030-01-01", "amount_cpu": "5",
            "action": "approve", "orders": [self.order.uuid.hex], "username": "carol", "password": "carol",
        }  # fmt: skip
        for name, path in self.paths().items():
            response = client.post(path, body)
            assert response.status_code == 403, (name, path, response.status_code)
            assert b"CSRF" in response.content, name
        assert self.state() == before
        assert client.get("/").status_code == 200  # still logged in: logout was refused too

    def test_it_accepts_the_same_posts_with_the_token(self) -> None:
        """The refusals above come from the missing token: with it, every POST endpoint gets past CSRF."""
        client = self.client_for(self.staff)
        client.get("/profile/")
        token = client.cookies["csrftoken"].value
        paths = self.paths()
        for name in [*sorted(POST_ENDPOINTS - {"logout", "login"}), "logout"]:
            response = client.post(paths[name], {"csrfmiddlewaretoken": token, "comment": "because"})
            assert b"CSRF" not in response.content, name
            assert response.status_code in (200, 302, 400, 404, 409), (name, response.status_code)

    def test_it_puts_the_token_in_every_form_that_posts(self) -> None:
        forms = 0
        for template in TEMPLATES.rglob("*.html"):
            text = template.read_text()
            for form in re.findall(r"<form[^>]*method=\"post\"[^>]*>.*?</form>", text, re.S | re.I):
                forms += 1
                assert "{% csrf_token %}" in form, template
        assert forms >= 8


class ContentSecurityPolicyTests(WebTestCase):
    def test_it_sends_a_strict_policy(self) -> None:
        policy = self.login(None).get("/login/")["Content-Security-Policy"]
        directives = dict(part.strip().split(" ", 1) for part in policy.split(";"))
        assert directives["default-src"] == "'none'"
        assert directives["script-src"] == "'self'"
        assert directives["style-src"] == "'self'"
        assert directives["frame-ancestors"] == "'none'"
        assert directives["form-action"] == "'self'"
        assert "unsafe" not in policy

    def test_it_has_no_inline_code_in_any_template(self) -> None:
        templates = list(TEMPLATES.rglob("*.html"))
        assert len(templates) > 20
        for template in templates:
            assert inline_code(template.read_text()) == [], template

    def test_it_renders_no_inline_code_on_any_page(self) -> None:
        alloc = self.resource("alloc")
        self.report(alloc, cpu=3, storage=2)
        order = make_order(self.alice, self.project_a1, self.offering, name="pending")
        r, o = alloc.uuid.hex, order.uuid.hex
        client = self.login(self.carol)
        token, _key = issue_token(user=self.carol, name="laptop")
        pages = ["/", "/profile/", f"/profile/tokens/{token.uuid.hex}/revoke/", "/provider/",
                 "/provider/resources/",
                 f"/provider/resources/{r}/", f"/provider/resources/{r}/usage/",
                 f"/provider/resources/{r}/report/",
                 f"/provider/resources/{r}/backend-id/", f"/provider/resources/{r}/end-date/",
                 f"/provider/resources/{r}/restore/",
                 "/provider/orders/", f"/provider/orders/{o}/", f"/provider/orders/{o}/approve/",
                 f"/provider/orders/{o}/reject/"]  # fmt: skip
        hook = hook_services.create_web_hook(
            user=self.carol, destination_url="http://93.184.215.14/", event_groups=["users"]
        )
        hook_services.send_test(hook=hook, user=self.carol)
        h = hook.uuid.hex
        pages += [
            "/provider/hooks/",
            "/provider/hooks/new/",
            f"/provider/hooks/{h}/",
            f"/provider/hooks/{h}/delete/",
        ]
        for path in pages:
            response = client.get(path)
            assert response.status_code == 200, path
            assert inline_code(response.content.decode()) == [], path
        assert inline_code(self.login(None).get("/login/").content.decode()) == []
        o, a, p = self.offering.uuid.hex, self.org_a.uuid.hex, self.project_a1.uuid.hex
        consumer = self.login(self.alice)
        pages = ["/marketplace/", f"/marketplace/offerings/{o}/", f"/marketplace/offerings/{o}/order/",
                 "/my/orders/", f"/my/orders/{order.uuid.hex}/", f"/my/orders/{order.uuid.hex}/cancel/",
                 "/my/resources/", f"/my/resources/{r}/", f"/my/resources/{r}/usage/",
                 f"/my/resources/{r}/limits/", f"/my/resources/{r}/extend/",
                 f"/my/resources/{r}/terminate/", "/organisations/", f"/organisations/{a}/",
                 f"/organisations/{a}/projects/new/", f"/projects/{p}/", f"/projects/{p}/edit/"]  # fmt: skip
        for path in pages:
            response = consumer.get(path)
            assert response.status_code == 200, (path, response.status_code)
            assert inline_code(response.content.decode()) == [], path


class ApiDocsUnderThePolicyTests(WebTestCase):
    def test_it_serves_swagger_ui_without_inline_code(self) -> None:
        html = self.login(None).get("/api/docs/").content.decode()
        assert inline_code(html) == []
        script = re.search(r'<script src="(/api/docs/\?[^"]+)"', html)
        assert script is not None, html
        response = self.login(None).get(script.group(1).replace("&amp;", "&"))
        assert response.status_code == 200
        assert response["Content-Type"].startswith("application/javascript")
        assert "SwaggerUIBundle" in response.content.decode()


class SecureCookiesTests(WebTestCase):
    def test_it_marks_cookies_secure_and_sends_hsts_outside_debug_mode(self) -> None:
        client = Client()
        page = client.get("/login/", secure=True)
        assert page["Strict-Transport-Security"] == "max-age=31536000; includeSubDomains; preload"
        assert page.cookies["csrftoken"]["secure"] is True
        token = page.cookies["csrftoken"].value
        response = client.post(
            "/login/",
            {"username": "carol", "password": "carol", "csrfmiddlewaretoken": token},
            secure=True,
        )
        assert response.status_code == 302
        session = response.cookies["sessionid"]
        assert (session["secure"], session["httponly"], session["samesite"]) == (True, True, "Lax")
        assert page["X-Frame-Options"] == "DENY"
        assert page["X-Content-Type-Options"] == "nosniff"
        assert page["Referrer-Policy"] == "same-origin"


def run_efp(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
    base = {k: v for k, v in os.environ.items() if not k.startswith("EFP_") or k == "EFP_DATABASE_URL"}
    return subprocess.run(
        [str(EFP), *args], env={**base, **env}, capture_output=True, text=True, timeout=120, check=False
    )


PRODUCTION = {
    "EFP_SECRET_KEY": secrets.token_urlsafe(50),
    "EFP_ALLOWED_HOSTS": "efp.example.org",
    "EFP_SECURE_SSL_REDIRECT": "true",
}


class DeployCheckTests(WebTestCase):
    def test_it_passes_the_deploy_check_in_production_mode(self) -> None:
        result = run_efp("check", "--deploy", "--fail-level", "WARNING", **PRODUCTION)
        assert result.returncode == 0, result.stdout + result.stderr
        assert "System check identified no issues (0 silenced)." in result.stdout

    def test_it_fails_the_deploy_check_in_debug_mode_or_with_the_development_key(self) -> None:
        debug = run_efp("check", "--deploy", "--fail-level", "WARNING", **PRODUCTION, EFP_DEBUG="true")
        assert debug.returncode != 0
        for check in ("security.W018", "security.W012", "security.W016", "security.W004"):
            assert check in debug.stderr, check
        weak = {**PRODUCTION, "EFP_SECRET_KEY": "efp-insecure-development-key-change-me-in-production"}
        assert "efp.W001" in run_efp("check", "--deploy", "--fail-level", "WARNING", **weak).stderr


def database_options(key: str = "OPTIONS", **env: str) -> str:
    """The database OPTIONS (or another key) the settings derive from the environment (no connection)."""
    code = (
        "from django.conf import settings; "
        f"value = settings.DATABASES['default'].get({key!r}, {{}}); "
        "print(sorted(value.items()) if isinstance(value, dict) else value)"
    )
    base = {k: v for k, v in os.environ.items() if not k.startswith("EFP_")}
    result = subprocess.run(
        [sys.executable, "-c", f"import django; django.setup(); {code}"],
        env={**base, "DJANGO_SETTINGS_MODULE": "efp.settings", **env},
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    return result.stdout.strip()


class DatabaseSettingsTests(WebTestCase):
    def test_postgresql_prepares_repeated_queries_unless_told_not_to(self) -> None:
        postgres = "postgres://postgres@127.0.0.1:5432/efp"
        assert database_options(EFP_DATABASE_URL=postgres) == (
            "[('options', '-c jit=off'), ('prepare_threshold', 5), ('server_side_binding', True)]"
        )
        assert (
            database_options(
                EFP_DATABASE_URL=postgres, EFP_DATABASE_PREPARED="false", EFP_DATABASE_JIT="true"
            )
            == "[]"
        )
        sqlite = database_options(EFP_DATABASE_URL="sqlite:///x.sqlite3")
        assert "prepare_threshold" not in sqlite and "IMMEDIATE" in sqlite and "jit" not in sqlite

    def test_postgresql_compiles_no_query_to_machine_code_unless_told_to(self) -> None:
        """Issue 18: compiling the dashboard's queries (JIT) took seconds from 10,000 resources."""
        postgres = "postgres://postgres@127.0.0.1:5432/efp"
        assert "jit=off" in database_options(EFP_DATABASE_URL=postgres, EFP_DATABASE_PREPARED="false")
        assert "jit" not in database_options(EFP_DATABASE_URL=postgres, EFP_DATABASE_JIT="true")

    def test_behind_a_transaction_pooler_it_neither_prepares_nor_holds_cursors(self) -> None:
        postgres = "postgres://postgres@127.0.0.1:5432/efp"
        pooled = {"EFP_DATABASE_URL": postgres, "EFP_DATABASE_POOLED": "true"}
        assert database_options(**pooled) == "[]"
        assert database_options("DISABLE_SERVER_SIDE_CURSORS", **pooled) == "True"
        assert database_options("DISABLE_SERVER_SIDE_CURSORS", EFP_DATABASE_URL=postgres) == "False"


class ServerProcessTests(WebTestCase):
    def test_the_wsgi_entry_point_loads_every_view_and_freezes_it_out_of_the_garbage_collectors_sight(
        self,
    ) -> None:
        code = (
            "import gc, sys; import efp.wsgi; "
            "print(gc.get_freeze_count() > 10000, 'efp.marketplace.api.usage' in sys.modules)"
        )
        base = {k: v for k, v in os.environ.items() if not k.startswith("EFP_")}
        result = subprocess.run(
            [sys.executable, "-c", code],
            env={**base, "EFP_DATABASE_URL": "sqlite:///unused.sqlite3"},
            capture_output=True,
            text=True,
            timeout=60,
            check=True,
        )
        assert result.stdout.split() == ["True", "True"], result.stderr
