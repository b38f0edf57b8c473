from django.apps import AppConfig
from django.db.backends.signals import connection_created


class MarketplaceConfig(AppConfig):
    name = "efp.marketplace"
    label = "marketplace"

    def ready(self) -> None:
        from efp.events.recorder import of_types, on_event
        from efp.marketplace import jobs  # noqa: F401 - registers the periodic jobs
        from efp.marketplace.agent_messages import ROLE_GRANTED, role_changed
        from efp.marketplace.models.history import register_sqlite_lock
        from efp.marketplace.services.forecasts import refresh_on_event, refreshed_by

        connection_created.connect(register_sqlite_lock, dispatch_uid="efp_history_lock")
        on_event("forecasts", refresh_on_event, acts_on=refreshed_by)
        on_event("agent_user_role", role_changed, acts_on=of_types(ROLE_GRANTED))
