from django.apps import AppConfig


class MarketplaceConfig(AppConfig):
    name = "efp.marketplace"
    label = "marketplace"
