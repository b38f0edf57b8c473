"""How many rows each list holds, per offering, project, month and state: what `X-Result-Count` reads.

A maintained aggregate (docs/architecture.md, "Counting"): database triggers on the four counted tables
(migration 0009) keep it true in the same transaction as every write, whoever writes (services, bulk
imports, the scale seed); `services/tallies.recount` rebuilds it from the base tables and the tests
compare the two after every kind of write. `marketplace/tallies.py` reads it.
"""

from __future__ import annotations

import datetime

from django.db import models

# Sentinels rather than NULLs, so that the unique key holds (NULLs are all distinct in a unique index).
NO_PERIOD = datetime.date(1, 1, 1)  # orders and resources: not counted by month
NO_STATE = ""  # usage rows: not counted by state


class ListTally(models.Model):
    class Kind(models.TextChoices):
        COMPONENT_USAGE = "component_usage"  # ComponentUsage, by its resource's offering and project
        USER_USAGE = "user_usage"  # ComponentUserUsage, by its usage row's resource and month
        ORDER = "order"
        RESOURCE = "resource"

    kind = models.CharField(max_length=20, choices=Kind.choices)
    # Plain keys, not foreign keys: a count is nobody's object, and a trigger's upsert checks nothing more.
    offering_id = models.BigIntegerField()
    project_id = models.BigIntegerField()
    period = models.DateField()  # the billing month of usage rows; NO_PERIOD otherwise
    state = models.CharField(max_length=20, blank=True)  # of orders and resources; NO_STATE otherwise
    count = models.BigIntegerField()

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["kind", "offering_id", "project_id", "period", "state"], name="list_tally_key"
            )
        ]
        # The consumer side sums by project (the key above serves the provider side, by offering).
        indexes = [models.Index(fields=["kind", "project_id"], name="list_tally_project")]

    def __str__(self) -> str:
        return f"{self.kind} {self.offering_id}/{self.project_id} {self.period} {self.state}: {self.count}"
