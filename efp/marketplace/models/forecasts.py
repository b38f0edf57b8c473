from __future__ import annotations

from django.db import models
from django.utils import timezone

from efp.marketplace.models.resources import Resource


class ResourceForecast(models.Model):
    """A read model (`services/forecasts.py` refreshes it, `marketplace/forecasts.py` computes it): a
    resource's usage flags and, per limited component, when its limit runs out."""

    resource = models.OneToOneField(Resource, on_delete=models.CASCADE, related_name="forecast")
    # The flag names of `forecasts.FLAGS` as ",name,name," (the `usage_flag` filter reads ",name,"; a JSON
    # list cannot be searched on SQLite).
    flags = models.CharField(max_length=255, blank=True, default="")
    # {component type: {"runs_out": "YYYY-MM-DD" | None, "rate_per_day", "used", "limit"}} (text decimals)
    components = models.JSONField(default=dict, blank=True)
    computed_at = models.DateTimeField(default=timezone.now)

    class Meta:
        # The counts per flag (`selectors.usage_flag_counts`) read the flagged forecasts only: most have none.
        indexes = [models.Index(fields=["resource"], condition=~models.Q(flags=""), name="forecast_flagged")]

    def __str__(self) -> str:
        return f"{self.resource_id}: {self.flags or 'no flags'}"

    @property
    def flag_list(self) -> list[str]:
        return [name for name in self.flags.split(",") if name]

    @staticmethod
    def stored_flags(names: list[str]) -> str:
        return f",{','.join(names)}," if names else ""

    @staticmethod
    def flag_pattern(name: str) -> str:
        return f",{name},"
