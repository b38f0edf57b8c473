"""Usernames of offering users by the offering's `plugin_options.username_generation_policy` (Waldur's
policies). No database code: the caller passes the names already taken at the offering.

- `waldur_username`: the person's username here;
- `full_name`: `first_last` in lower-case ASCII letters and digits, numbered from `_2` on a clash;
- `anonymized`: `username_anonymized_prefix` (default `walduruser_`) and a five-digit number;
- `service_provider` (the default), `freeipa`, `identity_claim`: none here; the site agent or the identity
  provider names the account, which waits in `Requested` until then.
"""

from __future__ import annotations

import re
import unicodedata
from typing import Any

from efp.structure.names import first_free

DEFAULT_POLICY = "service_provider"
POLICIES = ("service_provider", "anonymized", "full_name", "waldur_username", "freeipa", "identity_claim")
ANONYMIZED_PREFIX = "walduruser_"


def policy_of(plugin_options: dict[str, Any] | None) -> str:
    policy = (plugin_options or {}).get("username_generation_policy")
    return policy if policy in POLICIES else DEFAULT_POLICY


def _ascii_word(text: str) -> str:
    folded = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    return re.sub(r"[^a-z0-9]+", "", folded.lower())


def generated_username(
    plugin_options: dict[str, Any] | None, *, username: str, first_name: str, last_name: str, taken: set[str]
) -> str | None:
    """The name the offering's policy gives a person, or None when the policy leaves it to others."""
    policy = policy_of(plugin_options)
    if policy == "waldur_username":
        return username
    if policy == "full_name":
        words = [w for w in (_ascii_word(first_name), _ascii_word(last_name)) if w]
        return first_free("_".join(words) or _ascii_word(username) or "user", taken, "_")
    if policy == "anonymized":
        prefix = str((plugin_options or {}).get("username_anonymized_prefix") or ANONYMIZED_PREFIX)
        number = 1
        while f"{prefix}{number:05d}" in taken:
            number += 1
        return f"{prefix}{number:05d}"
    return None
