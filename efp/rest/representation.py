"""Faster rendering of model serializers, with exactly the output of DRF's own `to_representation`.

DRF walks every field of every row through `get_attribute` and `to_representation` with their generic
checks; a page of 300 orders of ~100 fields each spends most of its time there. `CompiledRepresentation`
builds, once per serializer instance (so once per page, after `?field=` has chosen the fields), one small
getter per field, and renders each row by calling them:

- plain read-only fields (CharField, BooleanField, IntegerField, UUIDField, DateTimeField with no output
  format, JSONField) read their dotted source directly and apply the same conversion DRF applies;
- SerializerMethodFields call their method; fields whose source is `*` get the object itself;
- every other field (nested serializers, decimals, dates, anything new) goes through DRF's own
  `get_attribute` / `to_representation`, so it cannot drift.

A missing intermediate object answers as DRF does: the field's default, else None when null is allowed,
else the key is left out. efp/marketplace/tests/test_representation.py compares both, rendered to JSON.
"""

from __future__ import annotations

import operator
from collections.abc import Callable
from typing import Any

from django.core.exceptions import ObjectDoesNotExist
from rest_framework import fields, serializers
from rest_framework.fields import SkipField, empty
from rest_framework.relations import PKOnlyObject
from rest_framework.settings import api_settings

SKIP = object()
Getter = Callable[[Any], Any]


def _identity(value: Any) -> Any:
    return value


def _hex(value: Any) -> Any:
    return value.hex


def _converter(field: fields.Field) -> Callable[[Any], Any] | None:
    """The conversion DRF applies to a non-None value, for the field types it is worth inlining."""
    kind = type(field)
    if kind is fields.CharField:
        return str
    if kind is fields.BooleanField:
        return bool
    if kind is fields.IntegerField:
        return int
    if isinstance(field, fields.UUIDField) and kind.to_representation is fields.UUIDField.to_representation:
        return _hex if field.uuid_format == "hex" else None
    if (
        isinstance(field, fields.DateTimeField)
        and kind.to_representation is fields.DateTimeField.to_representation
        and getattr(field, "format", api_settings.DATETIME_FORMAT) is None
    ):
        return _identity  # DRF hands the datetime to the renderer as it is (falsy values become None)
    if kind is fields.JSONField and not getattr(field, "binary", False):
        return _identity
    return None


def _missing(field: fields.Field) -> Any:
    """What DRF renders when the source cannot be reached (see Field.get_attribute)."""
    if field.default is not empty:
        return field.get_default()
    if field.allow_null:
        return None
    return SKIP


def _plain_getter(field: fields.Field, convert: Callable[[Any], Any]) -> Getter | None:
    attrs = field.source_attrs
    if not attrs or field.field_name is None:
        return None
    read = operator.attrgetter(".".join(attrs))
    is_datetime = convert is _identity and isinstance(field, fields.DateTimeField)

    def get(instance: Any) -> Any:
        try:
            value = read(instance)
        except ObjectDoesNotExist:
            return None
        except (AttributeError, KeyError):
            return _missing(field)
        if value is None or (is_datetime and not value):
            return None
        if callable(value):  # DRF calls a method named as the source
            return generic(field)(instance)
        return convert(value)

    return get


def generic(field: fields.Field) -> Getter:
    """DRF's own path for one field."""

    def get(instance: Any) -> Any:
        try:
            attribute = field.get_attribute(instance)
        except SkipField:
            return SKIP
        check_for_none = attribute.pk if isinstance(attribute, PKOnlyObject) else attribute
        if check_for_none is None:
            return None
        return field.to_representation(attribute)

    return get


def compile_field(serializer: serializers.BaseSerializer, field: fields.Field) -> Getter:
    if isinstance(field, serializers.SerializerMethodField):
        return getattr(serializer, field.method_name)
    if not isinstance(field, serializers.BaseSerializer) and field.source == "*":
        return field.to_representation
    convert = _converter(field)
    if convert is not None:
        getter = _plain_getter(field, convert)
        if getter is not None:
            return getter
    return generic(field)


class CompiledRepresentation:
    """Mix into a (Model)Serializer before DRF's class: same output as Serializer.to_representation."""

    _compiled: list[tuple[str, Getter]] | None = None

    def to_representation(self, instance: Any) -> dict[str, Any]:
        compiled = self._compiled
        if compiled is None:
            compiled = [
                (field.field_name, compile_field(self, field))  # type: ignore[arg-type]
                for field in self._readable_fields  # type: ignore[attr-defined]
            ]
            self._compiled = compiled
        result: dict[str, Any] = {}
        for name, get in compiled:
            value = get(instance)
            if value is not SKIP:
                result[name] = value
        return result
