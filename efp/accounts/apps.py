from django.apps import AppConfig


class AccountsConfig(AppConfig):
    name = "efp.accounts"
    label = "accounts"
