"""The rows of the usage coverage and usage report lists (read models `coverage` and `usage_reports`), and
the query strings both accept."""

from __future__ import annotations

import datetime
import uuid
from dataclasses import dataclass
from typing import Any

from django.http import QueryDict
from rest_framework import serializers

from efp.marketplace.billing_months import parse_span
from efp.marketplace.coverage import STATES
from efp.rest.filters import uuid_or_none


class CoverageRowSerializer(serializers.Serializer):
    resource_uuid = serializers.CharField()
    resource_name = serializers.CharField()
    project_name = serializers.CharField()
    customer_name = serializers.CharField()
    offering_name = serializers.CharField()
    months = serializers.DictField(child=serializers.ChoiceField(choices=STATES))


class UsageReportRowSerializer(serializers.Serializer):
    customer_uuid = serializers.CharField()
    customer_name = serializers.CharField()
    project_uuid = serializers.CharField()
    project_name = serializers.CharField()
    offering_uuid = serializers.CharField()
    offering_name = serializers.CharField()
    component_type = serializers.CharField()
    component_name = serializers.CharField()
    measured_unit = serializers.CharField()
    billing_period = serializers.CharField(help_text="YYYY-MM")
    usage = serializers.DecimalField(max_digits=20, decimal_places=2)
    cost = serializers.DecimalField(max_digits=30, decimal_places=2)


@dataclass
class ReportQuery:
    """`from`, `to` (YYYY-MM) and the optional scopes, each a UUID (dashed or hex)."""

    months: list[datetime.date]
    scopes: dict[str, uuid.UUID]

    @classmethod
    def parse(cls, params: QueryDict, scopes: tuple[str, ...]) -> ReportQuery:
        """Raises a ValidationError (400 with field errors) for a bad month, a bad range or a bad UUID."""
        months, errors = parse_span(params.get("from"), params.get("to"))
        keys: dict[str, uuid.UUID] = {}
        for name in scopes:
            raw = params.get(name)
            if not raw:
                continue
            key = uuid_or_none(raw)
            if key is None:
                errors[name] = ["Enter a valid UUID."]
            else:
                keys[name] = key
        if errors:
            raise serializers.ValidationError(errors)
        return cls(months, keys)

    def filter(self, resources: Any) -> Any:
        """The resources of the scopes given (an unknown UUID gives no rows, as the other lists' filters)."""
        fields = {
            "offering_uuid": "offering__uuid",
            "customer_uuid": "project__customer__uuid",
            "project_uuid": "project__uuid",
        }
        return resources.filter(**{fields[name]: key for name, key in self.scopes.items()})
