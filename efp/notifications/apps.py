from django.apps import AppConfig


class NotificationsConfig(AppConfig):
    name = "efp.notifications"
    label = "notifications"

    def ready(self) -> None:
        from efp.events.recorder import on_event
        from efp.notifications import jobs  # noqa: F401 - registers the periodic jobs
        from efp.notifications.reactions import acts_on, react

        on_event("notifications", react, acts_on=acts_on)
