from django.apps import AppConfig


class HooksConfig(AppConfig):
    name = "efp.hooks"
    label = "hooks"

    def ready(self) -> None:
        from efp.events.recorder import on_event
        from efp.hooks import jobs  # noqa: F401 - registers the periodic job
        from efp.hooks.demo import add_demo_hook
        from efp.hooks.services import dispatch, dispatched, subscribed_types
        from efp.marketplace.demo import built

        on_event("hooks", dispatch, acts_on=dispatched, may_act_on=subscribed_types)
        built.connect(add_demo_hook, dispatch_uid="efp_hooks_demo")
