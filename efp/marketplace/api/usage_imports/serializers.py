"""The body of a usage import (a CSV `file`, `dry_run`) and its answer: a summary and every line."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from rest_framework import serializers

from efp.marketplace.services.usage_imports import ImportPlan, PlannedLine


class UsageImportSerializer(serializers.Serializer):
    file = serializers.FileField(allow_empty_file=False)
    dry_run = serializers.BooleanField(default=True)


class ImportLineSerializer(serializers.Serializer):
    line = serializers.IntegerField(source="source.line")
    resource_uuid = serializers.CharField(source="source.resource_uuid")
    component = serializers.CharField(source="source.component")
    month = serializers.CharField(source="source.month")
    username = serializers.CharField(source="source.username")
    outcome = serializers.CharField()
    old_amount = serializers.DecimalField(max_digits=20, decimal_places=2, allow_null=True)
    new_amount = serializers.DecimalField(max_digits=20, decimal_places=2, allow_null=True)
    error = serializers.CharField()


def plan_data(plan: ImportPlan) -> dict[str, Any]:
    """The answer: whether it was written, the count of each outcome and every line in file order."""
    lines: list[PlannedLine] = plan.lines
    return {
        "dry_run": not plan.applied,
        "applied": plan.applied,
        "summary": plan.summary,
        "lines": ImportLineSerializer(lines, many=True).data,
    }


def too_large(size: int) -> str:
    limit = settings.EFP_MAX_IMPORT_BYTES
    return f"The file is too large: {size} bytes; the limit is {limit} bytes."
