from django.apps import AppConfig


class EventsConfig(AppConfig):
    name = "efp.events"
    label = "events"

    def ready(self) -> None:
        from efp.events import audit

        audit.connect()  # the record of access: sign-ins, lockouts, API tokens
