"""OpenID Connect against a real provider (django-oidc-provider, started on 127.0.0.1 by
`efp.tests.oidc_provider.run`): Pat, whom only the provider knows, signs in and becomes a person here; the
second sign-in finds the same person; EFP_PASSWORD_LOGIN=false closes every password door; the API takes
the provider's access tokens (JWT and opaque) as `Authorization: Bearer`, and API tokens keep working."""

from __future__ import annotations

from contextlib import ExitStack
from typing import Any, ClassVar
from unittest import mock
from urllib.parse import parse_qs, urlsplit

import requests
from django.contrib.auth.signals import user_logged_in
from django.core.cache import cache
from django.test import Client, TestCase, override_settings
from rest_framework.test import APIClient

from efp.accounts.models import OidcIdentity, User
from efp.accounts.oidc import discovery, people
from efp.events.models import Event
from efp.marketplace.tests.factories import make_token
from efp.tests.oidc_provider.run import PASSWORD, USERNAME, Provider, running_provider

CALLBACK = "http://testserver/oidc/callback/"


def sign_in(client: Client, *, next_page: str = "/") -> Any:
    """Pat clicks "Sign in with ...", signs in at the provider, and comes back to the callback."""
    start = client.get("/oidc/authenticate/", {"next": next_page})
    assert start.status_code == 302, start
    provider = requests.Session()
    page = provider.get(start["Location"], timeout=10)  # the provider asks who this is
    assert "Sign in at the provider" in page.text
    form = {
        "username": USERNAME,
        "password": PASSWORD,
        "next": parse_qs(urlsplit(page.url).query)["next"][0],
        "csrfmiddlewaretoken": provider.cookies["op_csrftoken"],
    }
    answer = provider.post(page.url, data=form, allow_redirects=False, timeout=10)
    while answer.is_redirect and not answer.headers["Location"].startswith(CALLBACK):
        answer = provider.get(requests.compat.urljoin(answer.url, answer.headers["Location"]),
                              allow_redirects=False, timeout=10)  # fmt: skip
    callback = urlsplit(answer.headers["Location"])
    return client.get(f"{callback.path}?{callback.query}")


class OidcTestCase(TestCase):
    provider: ClassVar[Provider]
    _stack: ClassVar[ExitStack]

    @classmethod
    def setUpClass(cls) -> None:
        super().setUpClass()
        cls._stack = ExitStack()
        cls.provider = cls._stack.enter_context(running_provider(CALLBACK))

    @classmethod
    def tearDownClass(cls) -> None:
        cls._stack.close()
        super().tearDownClass()

    def setUp(self) -> None:
        self.enterContext(override_settings(**self.provider.settings()))
        discovery.forget()
        cache.clear()
        self.staff = User.objects.create_user("staff", password="staff", is_staff=True)
        self.member = User.objects.create_user("member", password="member", first_name="Mo")

    def api(self, authorization: str) -> Any:
        return APIClient().get("/api/users/me/", HTTP_AUTHORIZATION=authorization)


class SignInTests(OidcTestCase):
    def test_it_creates_the_person_at_the_first_sign_in_from_the_mapped_claims(self) -> None:
        signed_in: list[str] = []

        def heard(sender: Any, user: User, **kwargs: Any) -> None:
            signed_in.append(user.username)

        user_logged_in.connect(heard)
        self.addCleanup(user_logged_in.disconnect, heard)
        client = Client()
        response = sign_in(client, next_page="/profile/")
        assert response.status_code == 302 and response["Location"] == "/profile/"
        pat = User.objects.get(username="pat")
        assert (pat.email, pat.first_name, pat.last_name) == ("pat@example.org", "Pat", "Provider")
        assert not pat.has_usable_password() and not pat.is_staff
        assert OidcIdentity.objects.get(user=pat).issuer == self.provider.issuer
        assert signed_in == ["pat"]  # through django.contrib.auth.login: the access audit hears it
        recorded = Event.objects.get(user_id=pat.pk, event_type__startswith="auth_logged_in")
        assert recorded.event_type == "auth_logged_in_with_oauth"
        assert client.get("/profile/").context["user"] == pat

    def test_the_admin_shows_whom_the_issuer_vouches_for(self) -> None:
        sign_in(Client())
        pat = User.objects.get(username="pat")
        admin = Client()
        admin.force_login(User.objects.create_superuser("root", password="root"))
        page = admin.get(f"/admin/accounts/user/{pat.pk}/change/").content.decode()
        assert self.provider.issuer in page and "OpenID Connect identities" in page

    def test_it_finds_the_same_person_at_the_second_sign_in(self) -> None:
        sign_in(Client())
        pat = User.objects.get(username="pat")
        User.objects.filter(pk=pat.pk).update(email="old@example.org", username="pat-renamed")
        sign_in(Client())
        assert User.objects.filter(first_name="Pat").count() == 1
        pat.refresh_from_db()
        assert (pat.username, pat.email) == ("pat-renamed", "pat@example.org")  # the issuer's e-mail wins

    def test_it_links_a_local_person_of_that_username_once(self) -> None:
        local = User.objects.create_user("pat", password="pat", email="pat@old.example.org")
        sign_in(Client())
        assert OidcIdentity.objects.get().user == local
        assert User.objects.filter(username__startswith="pat").count() == 1

    def test_it_maps_the_claims_the_settings_name(self) -> None:
        claims = {"sub": "7", "email": "kim@example.org", "name": "Kim Lee Park", "upn": "kpark"}
        with override_settings(OIDC_CLAIMS={**self.provider_claims(), "username": "upn"}):
            kim = people.person(issuer=self.provider.issuer, claims=claims)
        assert (kim.username, kim.first_name, kim.last_name) == ("kpark", "Kim", "Lee Park")
        again = people.person(issuer=self.provider.issuer, claims={**claims, "email": "kim@new.example.org"})
        assert again == kim and User.objects.get(pk=kim.pk).email == "kim@new.example.org"

    def test_it_refuses_claims_without_a_subject_or_with_a_taken_username(self) -> None:
        with self.assertRaises(people.Refused):
            people.person(issuer=self.provider.issuer, claims={"preferred_username": "x"})
        people.person(issuer=self.provider.issuer, claims={"sub": "1", "preferred_username": "sam"})
        with self.assertRaises(people.Refused):
            people.person(issuer=self.provider.issuer, claims={"sub": "2", "preferred_username": "sam"})

    def provider_claims(self) -> dict[str, str]:
        from django.conf import settings

        return dict(settings.OIDC_CLAIMS)

    def test_the_login_page_offers_the_provider_only_when_configured(self) -> None:
        page = Client().get("/login/").content.decode()
        assert "Sign in with Test provider" in page and 'name="password"' in page
        with override_settings(OIDC_ISSUER=""):
            page = Client().get("/login/").content.decode()
            assert "Sign in with" not in page and 'name="password"' in page
            assert Client().get("/oidc/authenticate/").status_code == 404
            assert Client().get("/oidc/callback/?code=x&state=y").status_code == 404

    def test_passwords_keep_signing_in_beside_the_issuer_by_default(self) -> None:
        with mock.patch("requests.post", side_effect=AssertionError("the issuer is not asked")):
            response = Client().post("/login/?code=x&state=y", {"username": "member", "password": "member"})
            assert response.status_code == 302 and response.wsgi_request.user == self.member
            answer = APIClient().post("/api-auth/password/", {"username": "member", "password": "member"})
        assert answer.status_code == 200 and "token" in answer.json()

    def test_a_forged_or_failed_callback_signs_nobody_in(self) -> None:
        client = Client()
        client.get("/oidc/authenticate/")
        response = client.get("/oidc/callback/?error=access_denied&state=nothing")
        assert response.status_code == 302 and response["Location"] == "/login/"
        assert "did not succeed" in client.get("/login/").content.decode()
        assert client.get("/oidc/callback/?code=stolen&state=forged").status_code == 400
        assert not User.objects.filter(username="pat").exists()

    def test_an_unreachable_issuer_sends_back_to_the_login_page(self) -> None:
        with override_settings(OIDC_ISSUER="http://127.0.0.1:9/openid"):
            client = Client()
            response = client.get("/oidc/authenticate/")
            assert response.status_code == 302 and response["Location"] == "/login/"
            assert "did not succeed" in client.get("/login/").content.decode()


@override_settings(PASSWORD_LOGIN=False)
class PasswordsSwitchedOffTests(OidcTestCase):
    def test_the_login_page_has_no_password_field_and_refuses_one(self) -> None:
        page = Client().get("/login/").content.decode()
        assert "Sign in with Test provider" in page and 'name="password"' not in page
        response = Client().post("/login/", {"username": "member", "password": "member"})
        assert response.status_code == 200
        assert "Signing in with a password is switched off." in response.content.decode()
        assert "_auth_user_id" not in response.wsgi_request.session

    def test_the_password_api_and_the_admin_login_refuse(self) -> None:
        response = APIClient().post("/api-auth/password/", {"username": "staff", "password": "staff"})
        assert response.status_code == 403
        assert response.json() == {"detail": "Signing in with a password is switched off."}
        client = Client()
        client.post("/admin/login/", {"username": "staff", "password": "staff", "next": "/admin/"})
        assert client.get("/admin/").status_code == 302  # still not signed in

    def test_single_sign_on_and_api_tokens_keep_working(self) -> None:
        assert sign_in(Client()).status_code == 302
        assert User.objects.filter(username="pat").exists()
        token_key = make_token(self.member)
        assert self.api(f"Token {token_key}").json()["username"] == "member"


class BearerTests(OidcTestCase):
    def test_it_takes_the_providers_opaque_access_token(self) -> None:
        response = self.api(f"Bearer {self.provider.opaque_access_token()}")
        assert response.status_code == 200, response.json()
        assert response.json()["username"] == "pat" and response.json()["email"] == "pat@example.org"

    def test_it_takes_a_jwt_access_token_signed_with_the_issuers_key(self) -> None:
        response = self.api(f"Bearer {self.provider.jwt_access_token()}")
        assert response.status_code == 200, response.json()
        assert response.json()["username"] == "pat"

    def test_it_asks_the_issuer_once_per_token_while_it_is_remembered(self) -> None:
        token = self.provider.opaque_access_token()
        with mock.patch("efp.accounts.oidc.bearer.requests.get", wraps=requests.get) as asked:
            assert self.api(f"Bearer {token}").status_code == 200
            assert self.api(f"Bearer {token}").status_code == 200
        assert [call for call in asked.call_args_list if call.args[0].endswith("/userinfo")] == [mock.ANY]

    def test_it_refuses_expired_forged_foreign_and_unknown_tokens_with_401_json(self) -> None:
        expired = self.provider.jwt_access_token(expires_in=-120)
        assert self.api(f"Bearer {expired}").json() == {"detail": "Token has expired."}
        header, payload, signature = self.provider.jwt_access_token().split(".")
        forged = f"{header}.{payload}.{signature[:-4]}AAAA"
        foreign = self.provider.jwt_access_token(audience="another-client")
        for token, detail in [
            (expired, "Token has expired."),
            (forged, "Invalid token."),
            (foreign, "Invalid token: issued for another client."),
            ("0123456789abcdef", "Invalid token."),
            ("two words", "Invalid bearer header: one token, no spaces."),
        ]:
            response = self.api(f"Bearer {token}")
            assert response.status_code == 401, token
            assert response.json() == {"detail": detail}
        assert not User.objects.filter(username="pat").exists()

    def test_an_inactive_person_is_refused(self) -> None:
        token = self.provider.jwt_access_token()
        assert self.api(f"Bearer {token}").status_code == 200
        User.objects.filter(username="pat").update(is_active=False)
        assert self.api(f"Bearer {token}").json() == {"detail": "User inactive or deleted."}

    def test_without_an_issuer_a_bearer_token_is_not_a_credential(self) -> None:
        token = self.provider.jwt_access_token()
        with override_settings(OIDC_ISSUER=""):
            response = self.api(f"Bearer {token}")
        assert response.status_code == 401
        assert response.json() == {"detail": "Authentication credentials were not provided."}

    def test_an_unreachable_issuer_is_503_not_a_refusal(self) -> None:
        with override_settings(OIDC_ISSUER="http://127.0.0.1:9/openid"):
            response = self.api("Bearer 0123456789abcdef")
        assert response.status_code == 503 and "detail" in response.json()

    def test_api_tokens_keep_working_beside_bearer_tokens(self) -> None:
        token_key = make_token(self.member)
        assert self.api(f"Token {token_key}").json()["username"] == "member"
        assert self.api("Token wrong").status_code == 401
