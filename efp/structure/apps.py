from django.apps import AppConfig


class StructureConfig(AppConfig):
    name = "efp.structure"
    label = "structure"
