"""Runs the test provider: `python -m efp.tests.oidc_provider.serve PORT CLIENT_ID SECRET REDIRECT_URI...`.

Sets up its database (migrations, a signing key, the client, the person `pat`), then serves on 127.0.0.1.
"""

import os
import sys


def main() -> None:
    port, client_id, secret, *redirect_uris = sys.argv[1:]
    os.environ["DJANGO_SETTINGS_MODULE"] = "efp.tests.oidc_provider.settings"
    import django

    django.setup()
    from django.contrib.auth.models import User
    from django.core.management import call_command
    from oidc_provider.models import Client, ResponseType

    call_command("migrate", verbosity=0)
    call_command("creatersakey")
    User.objects.create_user(
        "pat", email="pat@example.org", password="pat-password", first_name="Pat", last_name="Provider"
    )
    client = Client.objects.create(
        name="EFP Allocations",
        client_type="confidential",
        client_id=client_id,
        client_secret=secret,
        jwt_alg="RS256",
        require_consent=False,
        redirect_uris=redirect_uris,
        scope=["openid", "email", "profile"],
    )
    client.response_types.add(ResponseType.objects.get(value="code"))
    call_command("runserver", f"127.0.0.1:{port}", use_reloader=False, use_threading=True, skip_checks=True)


if __name__ == "__main__":
    main()
