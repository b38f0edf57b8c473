from django.apps import AppConfig


class AccountsConfig(AppConfig):
    name = "efp.accounts"
    label = "accounts"

    def ready(self) -> None:
        from efp.accounts import checks  # noqa: F401 - registers the deploy checks
