"""Domain errors raised by the services of every app.

The API maps them to 409, 405, 403 and 400; the GUI shows them."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any


class DomainError(Exception):
    """Base of every error a service raises on purpose."""


class StateConflict(DomainError):
    """The object is not in a state that allows the operation (HTTP 409)."""

    def __init__(self, valid_states: Iterable[str] | None = None, message: str | None = None) -> None:
        self.valid_states = list(valid_states or [])
        if message is None:
            message = "Valid states for operation: " + ", ".join(self.valid_states) + "."
        super().__init__(message)


class NotSupported(DomainError):
    """The offering type does not support the operation (HTTP 405)."""


class Forbidden(DomainError):
    """The user may see the object but not do this to it (HTTP 403)."""

    DEFAULT = "You do not have permission to perform this action."

    def __init__(self, message: str = DEFAULT) -> None:
        super().__init__(message)


class InvalidInput(DomainError):
    """Input that breaks a business rule (HTTP 400): a bare list, or per-field errors."""

    def __init__(self, errors: str | list[str] | dict[str, Any]) -> None:
        if isinstance(errors, str):
            errors = [errors]
        self.errors = errors
        super().__init__(self.summary())

    def as_data(self) -> list[str] | dict[str, Any]:
        return self.errors

    def summary(self) -> str:
        if isinstance(self.errors, list):
            return " ".join(str(item) for item in self.errors)
        parts = []
        for field, messages in self.errors.items():
            text = " ".join(str(m) for m in messages) if isinstance(messages, list) else str(messages)
            parts.append(f"{field}: {text}")
        return "; ".join(parts)

    def field_errors(self) -> dict[str, Any]:
        if isinstance(self.errors, dict):
            return self.errors
        return {"non_field_errors": self.errors}
