"""Where a web hook may post: http(s) URLs whose host resolves only to global addresses.

Private, loopback, link-local, shared, reserved and multicast ranges are refused, so a hook cannot make
the service call into its own network (SSRF), unless `EFP_WEBHOOK_ALLOW_PRIVATE=true` (tests, the demo).
Checked when a hook is created or changed and again before every attempt, since DNS may change.
"""

from __future__ import annotations

import ipaddress
import socket
from urllib.parse import urlsplit

from django.conf import settings


def destination_refusal(url: str) -> str | None:
    """None when `url` may receive deliveries now, else the reason in words."""
    try:
        parts = urlsplit(url)
        port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError:
        return "Enter a valid URL."
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return "Enter a valid http or https URL."
    if settings.WEBHOOK_ALLOW_PRIVATE:
        return None
    try:
        infos = socket.getaddrinfo(parts.hostname, port, type=socket.SOCK_STREAM)
    except (OSError, UnicodeError):
        return f"The host {parts.hostname} does not resolve."
    for info in infos:
        address = ipaddress.ip_address(str(info[4][0]).split("%")[0])
        if not address.is_global or address.is_multicast:
            return (
                f"The host {parts.hostname} resolves to {address}, a private, loopback, link-local or "
                "otherwise non-public address; web hooks only post to public addresses."
            )
    return None
