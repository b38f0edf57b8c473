from efp.accounts.services import get_or_create_token
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
    def test_it_shows_the_api_token(self) -> None:
        token = get_or_create_token(user=self.bob)
        response = self.login(self.bob).get("/profile/")
        assert response.status_code == 200
        assert token in response.content.decode()
        assert 'for="api-token"' in response.content.decode()

    def test_it_asks_before_regenerating_the_token(self) -> None:
        token = get_or_create_token(user=self.bob)
        response = self.login(self.bob).get("/profile/token/")
        assert response.status_code == 200
        assert "Regenerate token" in response.content.decode()
        assert get_or_create_token(user=self.bob) == token

    def test_it_regenerates_the_token(self) -> None:
        old = get_or_create_token(user=self.bob)
        client = self.login(self.bob)
        response = client.post("/profile/token/")
        assert response.status_code == 302
        new = get_or_create_token(user=self.bob)
        assert new != old
        assert new in client.get("/profile/").content.decode()


class TopBarTests(WebTestCase):
    def test_it_shows_service_provider_to_provider_users(self) -> None:
        for user in (self.carol, self.oscar, self.staff):
            html = self.login(user).get("/").content.decode()
            assert ">Service Provider</a>" in html, user

    def test_it_hides_service_provider_from_consumers(self) -> None:
        for user in (self.alice, self.bob, self.erin):
            html = self.login(user).get("/").content.decode()
            assert ">Service Provider</a>" not in html, user
