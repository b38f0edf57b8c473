"""The layout shows the design (docs/architecture.md): modules stay small enough to read, and apps import
only the layers below them, so no two apps depend on each other."""

from __future__ import annotations

import ast
import re
from pathlib import Path

from django.test import SimpleTestCase

EFP = Path(__file__).resolve().parent.parent
MAX_LINES = 600

# Each package may import itself and the layers listed for it; nothing else of efp.
# Shared infrastructure first, then the apps from the bottom up (docs/architecture.md, "Layers").
LAYERS: dict[str, set[str]] = {
    "errors": set(),
    "rawsql": set(),
    "request_size": set(),
    "append_only": set(),
    "outage": set(),
    "backups": set(),
    "rest": {"errors", "rawsql", "outage"},
    "accounts": {"errors", "rawsql", "request_size", "rest"},
    "events": {"errors", "rawsql", "rest", "accounts", "append_only", "backups"},
    "idempotency": {"errors", "rawsql", "rest", "accounts", "events"},
    "structure": {"errors", "rawsql", "rest", "accounts", "append_only", "events"},
    "marketplace": {
        "errors",
        "rawsql",
        "rest",
        "accounts",
        "append_only",
        "events",
        "idempotency",
        "structure",
    },
    "notifications": {"errors", "rawsql", "rest", "accounts", "events", "structure", "marketplace"},
    "hooks": {"errors", "rawsql", "rest", "accounts", "events", "structure", "marketplace", "notifications"},
    "invoices": {"errors", "rawsql", "rest", "accounts", "events", "structure", "marketplace"},
    # web reuses rest's CSV writer (efp/rest/csv_export.py) for its Download CSV links.
    "web": {
        "errors",
        "rawsql",
        "rest",
        "accounts",
        "events",
        "structure",
        "marketplace",
        "notifications",
        "hooks",
    },
}
# The project's wiring imports every app: settings, URLs, the WSGI entry point, the console script.
WIRING = {"settings", "urls", "wsgi", "cli", "__init__"}


def product_modules() -> list[Path]:
    return sorted(
        path
        for path in EFP.rglob("*.py")
        if "tests" not in path.relative_to(EFP).parts and "migrations" not in path.relative_to(EFP).parts
    )


def efp_imports(path: Path) -> set[str]:
    """The top-level efp packages a module imports (`efp.structure.models` -> `structure`)."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        names: list[str] = []
        if isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names = [node.module] if node.module != "efp" else [f"efp.{a.name}" for a in node.names]
        elif isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        found |= {name.split(".")[1] for name in names if name.startswith("efp.")}
    return found


def layer_violations(path: Path) -> list[str]:
    package = path.relative_to(EFP).parts[0].removesuffix(".py")
    if package in WIRING:
        return []
    allowed = LAYERS.get(package)
    if allowed is None:
        return [f"{path.relative_to(EFP)}: efp.{package} has no place in LAYERS"]
    return [
        f"{path.relative_to(EFP)} imports efp.{name}"
        for name in sorted(efp_imports(path) - allowed - {package})
    ]


class LayoutTests(SimpleTestCase):
    def test_it_keeps_every_product_module_under_600_lines(self) -> None:
        long = [
            f"{path.relative_to(EFP)}: {lines} lines"
            for path in product_modules()
            if (lines := len(path.read_text().splitlines())) > MAX_LINES
        ]
        assert long == [], "split these modules:\n" + "\n".join(long)

    def test_it_imports_only_the_layers_below(self) -> None:
        wrong = [problem for path in product_modules() for problem in layer_violations(path)]
        assert wrong == [], "\n".join(wrong)

    def test_it_would_notice_an_upward_import(self) -> None:
        sample = EFP / "structure" / "__layout_sample.py"
        sample.write_text("from efp.marketplace.models import Order\nfrom efp import web\n")
        try:
            assert layer_violations(sample) == [
                "structure/__layout_sample.py imports efp.marketplace",
                "structure/__layout_sample.py imports efp.web",
            ]
        finally:
            sample.unlink()

    def test_it_has_no_cycle_between_apps(self) -> None:
        """The table itself is acyclic: following what each layer may import never comes back to it."""
        for start in LAYERS:
            seen: set[str] = set()
            todo = list(LAYERS[start])
            while todo:
                name = todo.pop()
                assert name != start, f"efp.{start} may import itself back through efp.{name}"
                if name not in seen:
                    seen.add(name)
                    todo.extend(LAYERS[name])


class ArchitecturePageTests(SimpleTestCase):
    """docs/architecture.md says where each rule lives: every module it names exists, and it stays short."""

    page = EFP.parent / "docs" / "architecture.md"

    def named_modules(self, text: str) -> list[str]:
        return re.findall(r"`([\w/]+\.py)(?:[` ]|$)", text)

    def missing(self, text: str) -> list[str]:
        roots = (EFP, EFP.parent, EFP / "marketplace", EFP / "marketplace" / "api")
        return [
            name
            for name in self.named_modules(text)
            if "/" in name and not any((root / name).exists() for root in roots)
        ]

    def test_it_names_only_modules_that_exist(self) -> None:
        text = self.page.read_text()
        assert len(self.named_modules(text)) > 20
        assert self.missing(text) == []

    def test_it_would_notice_a_module_that_moved(self) -> None:
        assert self.missing("`marketplace/api/usage_pages.py` and `structure/access.py`") == [
            "marketplace/api/usage_pages.py"
        ]

    def test_it_stays_under_150_lines(self) -> None:
        assert len(self.page.read_text().splitlines()) < 150
