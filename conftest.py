"""Test-wide settings."""


def pytest_configure() -> None:
    from django.conf import settings

    # Every persona has a password; PBKDF2 at production strength made each test class's setup take seconds.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
