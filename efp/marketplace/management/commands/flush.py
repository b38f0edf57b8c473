"""`flush`, the one eraser of history: it empties every table, the append-only ones included (tests'
TransactionTestCase between tests). On SQLite their triggers must be told; on PostgreSQL flush is TRUNCATE,
which row triggers do not see. On SQLite the tally's triggers count the deletes too (in whatever order the
tables are emptied): the tally is emptied last."""

from typing import Any

from django.core.management.commands import flush
from django.db import connections

from efp.append_only import erasing_history
from efp.marketplace.models import ListTally


class Command(flush.Command):
    def handle(self, **options: Any) -> None:
        with erasing_history(connections[options["database"]]):
            super().handle(**options)
        ListTally.objects.using(options["database"]).all().delete()
