"""How long the hourly invoice refresh (`efp.invoices.services.refresh_invoices`) takes at scale, and how
many SQL queries it sends: run against a database `efp seed-scale` filled (EFP_DATABASE_URL; the seed is
run first when the database is empty).

    createdb -h 127.0.0.1 -U postgres efp_invoices_scale
    export EFP_DATABASE_URL=postgres://postgres@127.0.0.1:5432/efp_invoices_scale
    .venv/bin/python manage.py migrate && .venv/bin/efp seed-scale --resources 10000
    .venv/bin/python -m bench.invoice_refresh

Four runs, each one hour after the last (time_machine, so that the seed's own writes are older than the
incremental runs' window, `changes.SLACK`):
- **full**: the first run: no mark yet, every organisation; past months' invoices finalised, the current
  month's written;
- **recount**: `refresh_invoices(full=True)`: every organisation recomputed, nothing to change;
- **no change**: the next hourly run: incremental, nothing modified since the last one;
- **one change**: incremental after one usage row's `modified` is moved to now (a report's footprint).
The figures (seconds, queries, the summary) are printed as JSON with the load average: the machine is
shared, so they are under whatever load it has. Not part of `make test`.
"""

from __future__ import annotations

import datetime
import json
import os
import time
from typing import Any


def main() -> None:
    import django

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "efp.settings")
    django.setup()
    import time_machine
    from django.core.management import call_command
    from django.db import connection
    from django.utils import timezone

    from efp.invoices import services
    from efp.invoices.models import Invoice, InvoiceItem
    from efp.marketplace.models import ComponentUsage, Resource

    if not Resource.objects.exists():
        call_command("seed_scale", resources=int(os.environ.get("INVOICE_BENCH_RESOURCES", "10000")))
    start = timezone.now()

    def run(label: str, hours: int, **kwargs: Any) -> dict[str, Any]:
        queries = 0

        def count(execute: Any, sql: str, params: Any, many: bool, context: Any) -> Any:
            nonlocal queries
            queries += 1
            return execute(sql, params, many, context)

        later = start + datetime.timedelta(hours=hours)
        with time_machine.travel(later, tick=True), connection.execute_wrapper(count):
            began = time.perf_counter()
            summary = services.refresh_invoices(**kwargs)
            seconds = time.perf_counter() - began
        figures = {"run": label, "seconds": round(seconds, 2), "queries": queries, **summary}
        figures["load_average"] = [round(load, 2) for load in os.getloadavg()]
        print(json.dumps(figures), flush=True)
        return figures

    results = [run("full", 1), run("recount", 2, full=True), run("no change", 3)]
    with time_machine.travel(start + datetime.timedelta(hours=4), tick=True):
        one = ComponentUsage.objects.order_by("-billing_period", "pk").first()
        if one is not None:
            ComponentUsage.objects.filter(pk=one.pk).update(modified=timezone.now())
    results.append(run("one change", 5))
    world = {
        "resources": Resource.objects.count(),
        "usage_rows": ComponentUsage.objects.count(),
        "invoices": Invoice.objects.count(),
        "invoice_items": InvoiceItem.objects.count(),
        "database": connection.vendor,
        "cpus": os.cpu_count(),
    }
    print(json.dumps({"world": world, "runs": results}, indent=1))


if __name__ == "__main__":
    main()
