from django.apps import AppConfig


class IdempotencyConfig(AppConfig):
    name = "efp.idempotency"
    label = "idempotency"

    def ready(self) -> None:
        from efp.idempotency import jobs  # noqa: F401 - registers the periodic job
