"""Serializer fields for Waldur's representation: hex UUIDs, UTC datetimes, absolute hyperlinks."""

from __future__ import annotations

import datetime
import re
import uuid
from collections.abc import Callable
from typing import Any
from urllib.parse import urlparse

from django.db.models import Model, QuerySet
from django.urls import Resolver404, get_script_prefix, resolve, reverse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

# Schema shapes of values that are always null here but typed in Waldur's schema (no images, no scopes).
NULL_STRING = {"type": "string", "nullable": True, "readOnly": True}
NULL_URI = {"type": "string", "format": "uri", "nullable": True, "readOnly": True}
NULL_UUID = {"type": "string", "format": "uuid", "nullable": True, "readOnly": True}
NULL_DATETIME = {"type": "string", "format": "date-time", "nullable": True, "readOnly": True}
NULL_DATE = {"type": "string", "format": "date", "nullable": True, "readOnly": True}
NULL_OBJECT = {"type": "object", "additionalProperties": {}, "nullable": True, "readOnly": True}

# Reversing a URL costs more than the rest of a row's representation, and lists build several per row:
# each (script prefix, view, argument names) is reversed once with placeholders, then filled in.
_PATH_TEMPLATES: dict[tuple[str, str, tuple[str, ...]], tuple[str, tuple[str, ...]]] = {}
_PLACEHOLDER = "efp0placeholder0{}0"
_PLAIN = re.compile(r"[A-Za-z0-9_-]+")


def _path(view_name: str, kwargs: dict[str, Any], prefix: str | None = None) -> str:
    names = tuple(sorted(kwargs))
    key = (get_script_prefix() if prefix is None else prefix, view_name, names)
    template = _PATH_TEMPLATES.get(key)
    if template is None:
        marked = reverse(view_name, kwargs={name: _PLACEHOLDER.format(i) for i, name in enumerate(names)})
        template = (marked, names)
        _PATH_TEMPLATES[key] = template
    path, _ = template
    for i, name in enumerate(names):
        value = str(kwargs[name])
        if not _PLAIN.fullmatch(value):  # reverse() checks and quotes anything unusual
            return reverse(view_name, kwargs=kwargs)
        path = path.replace(_PLACEHOLDER.format(i), value)
    return path


def absolute_url(request: Any, view_name: str, **kwargs: Any) -> str:
    if request is None:
        return _path(view_name, kwargs)
    base = getattr(request, "_efp_url_base", None)
    if base is None:  # once per request: the script prefix is a thread-local lookup, slow per link
        base = request._efp_url_base = request.build_absolute_uri("/")[:-1]
        request._efp_script_prefix = get_script_prefix()
    return f"{base}{_path(view_name, kwargs, request._efp_script_prefix)}"


class HexUUIDField(serializers.UUIDField):
    """Renders `uuid.hex`; accepts dashed or hex input."""

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("format", "hex")
        super().__init__(**kwargs)


class UTCDateTimeField(serializers.DateTimeField):
    """ISO 8601 in UTC with a `Z` suffix, whatever EFP_TIME_ZONE says."""

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("default_timezone", datetime.UTC)
        super().__init__(**kwargs)


@extend_schema_field(OpenApiTypes.URI)
class LinkField(serializers.Field):
    """A read-only absolute hyperlink built from a related object's uuid (`allow_null=True` when the
    relation is optional, so the schema says so)."""

    def __init__(
        self, view_name: str, attr: str | None = None, uuid_attr: str | None = None, **kwargs: Any
    ) -> None:
        """`attr`: the dotted path to the linked object; `uuid_attr`: an attribute holding its uuid."""
        self.view_name = view_name
        self.attr = attr
        self.uuid_attr = uuid_attr
        kwargs["read_only"] = True
        kwargs.setdefault("source", "*")
        super().__init__(**kwargs)

    def to_representation(self, value: Any) -> str | None:
        if self.uuid_attr:
            key = getattr(value, self.uuid_attr, None)
            return (
                None
                if key is None
                else absolute_url(self.context.get("request"), self.view_name, uuid=key.hex)
            )
        target = value
        if self.attr:
            for part in self.attr.split("."):
                target = getattr(target, part, None)
                if target is None:
                    return None
        return absolute_url(self.context.get("request"), self.view_name, uuid=target.uuid.hex)


@extend_schema_field(OpenApiTypes.URI)
class HyperlinkInputField(serializers.Field):
    """Accepts an absolute or relative URL to one of `view_names` and returns the object.

    The object is looked up through `queryset(request)`, so a URL to something the user cannot see
    answers "Object does not exist", as Waldur does.
    """

    default_error_messages = {
        "incorrect_match": "Invalid hyperlink - Incorrect URL match.",
        "does_not_exist": "Invalid hyperlink - Object does not exist.",
        "incorrect_type": "Incorrect type. Expected URL string, received {data_type}.",
    }

    def __init__(
        self,
        view_names: tuple[str, ...],
        queryset: Callable[[Any], QuerySet[Any]],
        kwarg: str = "uuid",
        **kwargs: Any,
    ) -> None:
        self.view_names = view_names
        self.queryset_for = queryset
        self.kwarg = kwarg
        super().__init__(**kwargs)

    def to_internal_value(self, data: Any) -> Model:
        if not isinstance(data, str):
            self.fail("incorrect_type", data_type=type(data).__name__)
        try:
            match = resolve(urlparse(data).path)
        except (Resolver404, ValueError):  # ValueError: unparsable URL such as "http://[::1"
            self.fail("incorrect_match")
        if match.url_name not in self.view_names:
            self.fail("incorrect_match")
        try:
            # `plans/<plan_uuid>/` under a public offering, or a plain `<uuid>/` route.
            key = uuid.UUID(str(match.kwargs.get(self.kwarg, match.kwargs.get("uuid"))))
        except ValueError:
            self.fail("does_not_exist")
        obj = self.queryset_for(self.context.get("request")).filter(uuid=key).first()
        if obj is None:
            self.fail("does_not_exist")
        return obj

    def to_representation(self, value: Any) -> Any:
        if value is None or self.kwarg != "uuid":
            return None
        return absolute_url(self.context.get("request"), self.view_names[0], uuid=value.uuid.hex)


class SparseFieldsMixin:
    """`?field=a&field=b` keeps only the named fields (unknown names are ignored)."""

    def get_fields(self) -> dict[str, serializers.Field]:
        fields: dict[str, serializers.Field] = super().get_fields()  # type: ignore[misc]
        request = getattr(self, "context", {}).get("request")
        if request is None or not self._is_root():
            return fields
        wanted = [
            name for value in request.query_params.getlist("field") for name in value.split(",") if name
        ]
        if not wanted or request.method not in ("GET", "HEAD"):
            return fields
        return {name: field for name, field in fields.items() if name in wanted}

    def _is_root(self) -> bool:
        parent = getattr(self, "parent", None)
        return parent is None or (isinstance(parent, serializers.ListSerializer) and parent.parent is None)
