"""The body of a usage import (a CSV `file`, `dry_run`) and its answer: a summary and every line."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django.conf import settings
from rest_framework import serializers

from efp.marketplace.services.usage_imports import ImportPlan, PlannedLine


class UsageImportSerializer(serializers.Serializer):
    file = serializers.FileField(allow_empty_file=False)
    dry_run = serializers.BooleanField(default=True)


def _amount(value: Decimal | None) -> str | None:
    return None if value is None else f"{value:.2f}"


def line_data(line: PlannedLine) -> dict[str, Any]:
    """One line of the answer (a plain dict: a file has up to 100,000 of them)."""
    source = line.source
    return {
        "line": source.line,
        "resource_uuid": source.resource_uuid,
        "component": source.component,
        "month": source.month,
        "username": source.username,
        "outcome": line.outcome,
        "old_amount": _amount(line.old_amount),
        "new_amount": _amount(line.new_amount),
        "error": line.error,
    }


def plan_data(plan: ImportPlan) -> dict[str, Any]:
    """The answer: whether it was written, the count of each outcome and every line in file order."""
    return {
        "dry_run": not plan.applied,
        "applied": plan.applied,
        "summary": plan.summary,
        "lines": [line_data(line) for line in plan.lines],
    }


def too_large(size: int) -> str:
    limit = settings.EFP_MAX_IMPORT_BYTES
    return f"The file is too large: {size} bytes; the limit is {limit} bytes."
