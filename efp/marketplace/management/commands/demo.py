from typing import Any

from django.core.management.base import BaseCommand

from efp.marketplace import demo


class Command(BaseCommand):
    help = "Loads the demo data (idempotent) and prints the demo logins and API tokens."

    def handle(self, *args: Any, **options: Any) -> None:
        result = demo.build()
        self.stdout.write("Demo data created." if result["created"] else "Demo data already present.")
        self.stdout.write(demo.describe())
