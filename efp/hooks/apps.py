from django.apps import AppConfig


class HooksConfig(AppConfig):
    name = "efp.hooks"
    label = "hooks"

    def ready(self) -> None:
        from efp.events.recorder import on_event
        from efp.hooks import jobs  # noqa: F401 - registers the periodic job
        from efp.hooks.services import dispatch

        on_event("hooks", dispatch)
