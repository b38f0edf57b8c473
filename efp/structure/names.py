"""Names (of organisations, projects, offerings, plans, resources, usage users) are one line of visible
text: control characters and text-direction overrides, which can hide or reorder what a reader sees, are
refused. Any other Unicode is welcome and stored as given."""

from __future__ import annotations

import re
from collections.abc import Collection
from typing import Any

from django.core.exceptions import ValidationError

# C0 and C1 controls and DEL, and the bidirectional embeddings, overrides and isolates (U+202A-E, U+2066-9).
_FORBIDDEN = re.compile("[\x00-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")
NAME_MESSAGE = (
    "Names must not contain control characters (such as line breaks, tabs or text-direction overrides)."
)


def has_control_characters(value: Any) -> bool:
    return isinstance(value, str) and _FORBIDDEN.search(value) is not None


def validate_name(value: Any) -> None:
    """A field validator (models, forms and DRF serializers accept Django's ValidationError)."""
    if has_control_characters(value):
        raise ValidationError(NAME_MESSAGE, code="control_characters")


def first_free(base: str, taken: Collection[str], separator: str) -> str:
    """`base`, or `base` with the first free number from 2 appended after `separator` (slugs, usernames)."""
    if base not in taken:
        return base
    number = 2
    while f"{base}{separator}{number}" in taken:
        number += 1
    return f"{base}{separator}{number}"
