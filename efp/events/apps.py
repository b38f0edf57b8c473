from django.apps import AppConfig


class EventsConfig(AppConfig):
    name = "efp.events"
    label = "events"
