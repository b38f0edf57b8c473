from django.apps import AppConfig


class WebConfig(AppConfig):
    name = "efp.web"
    label = "web"
