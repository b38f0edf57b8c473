from django.apps import AppConfig


class InvoicesConfig(AppConfig):
    name = "efp.invoices"
    label = "invoices"

    def ready(self) -> None:
        from efp.invoices import jobs  # noqa: F401 - registers the periodic job
        from efp.invoices.demo import add_demo_invoices
        from efp.marketplace.demo import built

        built.connect(add_demo_invoices, dispatch_uid="efp_invoices_demo")
