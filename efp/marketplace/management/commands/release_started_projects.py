from typing import Any

from django.core.management.base import BaseCommand

from efp.marketplace.services.orders import release_orders_of_started_projects


class Command(BaseCommand):
    help = "Moves orders parked in pending-project on once their project has started (run daily from cron)."

    def handle(self, *args: Any, **options: Any) -> None:
        released = release_orders_of_started_projects()
        for order in released:
            self.stdout.write(f"{order.uuid.hex} {order.type} → {order.state}")
        self.stdout.write(f"{len(released)} order(s) released.")
