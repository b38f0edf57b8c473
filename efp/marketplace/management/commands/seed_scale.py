import sys
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

# The seed is a benchmark tool, not part of the product: it lives beside the benchmark in the source tree
# (bench/scale_seed, docs/performance.md), which a checkout (editable install, manage.py, the tests) has
# and a built wheel does not.
SOURCE_TREE = Path(__file__).resolve().parents[4]
if not (SOURCE_TREE / "bench" / "scale_seed").is_dir():
    raise CommandError("efp seed-scale runs from a source checkout: bench/scale_seed/ is not here.")
if str(SOURCE_TREE) not in sys.path:
    sys.path.append(str(SOURCE_TREE))

from bench import scale_seed  # noqa: E402 - importable once the source tree is on the path


def _positive(text: str) -> int:
    value = int(text)
    if value < 1:
        raise ValueError(text)
    return value


class Command(BaseCommand):
    help = (
        "Fills the database with a realistic volume for `make bench`: providers and offerings, resources "
        "with orders in every state, months of usage per usage component and per-user usage. Safe to re-run."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--resources", type=_positive, default=scale_seed.DEFAULT_RESOURCES)
        parser.add_argument("--months", type=_positive, default=scale_seed.DEFAULT_MONTHS)
        parser.add_argument(
            "--users-per-resource", type=_positive, default=scale_seed.DEFAULT_USERS_PER_RESOURCE
        )

    def _progress(self, line: str) -> None:
        self.stdout.write(line)
        self.stdout.flush()

    def handle(self, *args: Any, **options: Any) -> None:
        if options["users_per_resource"] > 50:
            raise CommandError("--users-per-resource must be at most 50.")
        result = scale_seed.seed(
            resources=options["resources"],
            months=options["months"],
            users_per_resource=options["users_per_resource"],
            write=self._progress,
        )
        if not result["created"]:
            self.stdout.write(
                "Already seeded: {resources:,} resources, {orders:,} orders, "
                "{component_usages:,} component usages. Nothing written.".format(**result)
            )
            return
        self.stdout.write(
            "Seeded {resources:,} resources, {orders:,} orders, {component_usages:,} component usages, "
            "{user_usages:,} per-user usages.".format(**result)
        )
        self.stdout.write(
            f"Provider token ({scale_seed.provider_username(1)}): {scale_seed.provider_token(1)}"
        )
