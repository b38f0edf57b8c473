from efp.accounts.models import ApiToken
from efp.accounts.services import digest_of, issue_token
from efp.web.tests.base import WebTestCase


class LoginTests(WebTestCase):
    def test_it_shows_a_login_form_with_labels_and_csrf(self) -> None:
        response = self.login(None).get("/login/")
        assert response.status_code == 200
        html = response.content.decode()
        assert 'for="id_username"' in html and 'for="id_password"' in html
        assert "csrfmiddlewaretoken" in html

    def test_it_logs_in_with_csrf_enforced(self) -> None:
        from django.test import Client

        client = Client(enforce_csrf_checks=True)
        page = client.get("/login/")
        token = page.cookies["csrftoken"].value
        response = client.post(
            "/login/", {"username": "carol", "password": "carol", "csrfmiddlewaretoken": token}
        )
        assert response.status_code == 302
        assert response["Location"] == "/"
        assert client.get("/").status_code == 200

    def test_it_refuses_a_post_without_csrf_token(self) -> None:
        from django.test import Client

        response = Client(enforce_csrf_checks=True).post(
            "/login/", {"username": "carol", "password": "carol"}
        )
        assert response.status_code == 403

    def test_it_shows_an_error_for_a_wrong_password(self) -> None:
        response = self.login(None).post("/login/", {"username": "carol", "password": "nope"})
        assert response.status_code == 200
        assert "correct username and password" in response.content.decode()

    def test_it_logs_out_with_a_post(self) -> None:
        client = self.login(self.carol)
        response = client.post("/logout/", follow=True)
        assert response.redirect_chain == [("/login/", 302)]
        assert "You have logged out." in response.content.decode()
        assert client.get("/profile/").status_code == 302
        # said once: the next visit to the login page is plain
        assert "You have logged out." not in client.get("/login/").content.decode()

    def test_it_sends_anonymous_users_to_the_login_page(self) -> None:
        for path in ("/", "/profile/", "/provider/", "/provider/resources/", "/provider/orders/"):
            response = self.login(None).get(path)
            assert response.status_code == 302, path
            assert response["Location"].startswith("/login/?next="), path


class ProfileTests(WebTestCase):
    def test_it_lists_my_tokens_without_their_keys(self) -> None:
        _token, key = issue_token(user=self.bob, name="laptop")
        issue_token(user=self.carol, name="carol's")
        page = self.login(self.bob).get("/profile/").content.decode()
        assert "laptop" in page and key[:8] in page
        assert key not in page
        assert "carol&#x27;s" not in page

    def test_it_makes_a_token_and_shows_its_key_once(self) -> None:
        client = self.login(self.bob)
        response = client.post("/profile/tokens/", {"name": "laptop", "expires": ""})
        assert response.status_code == 200
        token = ApiToken.objects.get(user=self.bob)
        key = response.context["key"]
        assert key in response.content.decode() and 'for="api-token"' in response.content.decode()
        assert token.name == "laptop" and token.digest == digest_of(key)
        assert key not in client.get("/profile/").content.decode()

    def test_it_refuses_a_token_without_a_name(self) -> None:
        response = self.login(self.bob).post("/profile/tokens/", {"name": " "})
        assert response.status_code == 400
        assert not ApiToken.objects.exists()

    def test_it_asks_before_revoking_a_token(self) -> None:
        token, _key = issue_token(user=self.bob, name="laptop")
        response = self.login(self.bob).get(f"/profile/tokens/{token.uuid.hex}/revoke/")
        assert response.status_code == 200
        assert "Revoke token" in response.content.decode()
        token.refresh_from_db()
        assert token.revoked is None

    def test_it_revokes_a_token_and_keeps_the_others(self) -> None:
        token, _key = issue_token(user=self.bob, name="laptop")
        other, _ = issue_token(user=self.bob, name="agent")
        response = self.login(self.bob).post(f"/profile/tokens/{token.uuid.hex}/revoke/")
        assert response.status_code == 302
        token.refresh_from_db()
        other.refresh_from_db()
        assert token.revoked is not None and other.revoked is None

    def test_it_does_not_revoke_someone_elses_token(self) -> None:
        token, _key = issue_token(user=self.carol, name="carol's")
        assert self.login(self.bob).post(f"/profile/tokens/{token.uuid.hex}/revoke/").status_code == 404
        token.refresh_from_db()
        assert token.revoked is None


class TopBarTests(WebTestCase):
    def test_it_shows_service_provider_to_provider_users(self) -> None:
        for user in (self.carol, self.oscar, self.staff):
            html = self.login(user).get("/").content.decode()
            assert ">Service Provider</a>" in html, user

    def test_it_hides_service_provider_from_consumers(self) -> None:
        for user in (self.alice, self.bob, self.erin):
            html = self.login(user).get("/").content.decode()
            assert ">Service Provider</a>" not in html, user
