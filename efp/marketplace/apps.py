from django.apps import AppConfig
from django.db.backends.signals import connection_created


class MarketplaceConfig(AppConfig):
    name = "efp.marketplace"
    label = "marketplace"

    def ready(self) -> None:
        from efp.marketplace.models.history import register_sqlite_lock

        connection_created.connect(register_sqlite_lock, dispatch_uid="efp_history_lock")
