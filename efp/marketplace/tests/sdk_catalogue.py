"""Which operations of Waldur's SDK (waldur-api-client 8.1.2) we serve, and which the contract suite calls.

An SDK operation is one module of `waldur_api_client.api.<tag>`, named after its operation id in Waldur's
schema. We serve it when our own schema has an operation with that id (same method and path: the coverage
test checks it). The contract suite is every test module that imports SDK operations; an operation counts
as exercised when one of them imports its module (ruff refuses an unused import).

`python -m efp.marketplace.tests.sdk_catalogue` rewrites the list of operations we do not serve in
docs/compatibility.md.
"""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import waldur_api_client

# The SDK's api packages of what we serve (issue 6): orders, resources, usage, catalogue, structure.
TAGS = (
    "marketplace_orders",
    "marketplace_provider_resources",
    "marketplace_resources",
    "marketplace_component_usages",
    "marketplace_component_user_usages",
    "component_user_usage_limits",
    "marketplace_provider_offerings",
    "marketplace_public_offerings",
    "marketplace_service_providers",
    "marketplace_plans",
    "marketplace_categories",
    "users",
    "customers",
    "projects",
    "version",
    "api_auth",
    "hooks_web",
    "hooks_email",
    "hooks",
    "events",
    "invoices",
    "invoice_items",
)

TESTS = Path(__file__).resolve().parent
EFP = TESTS.parents[1]
# The SDK contract suite: every test module that calls SDK operations (test_sdk_*.py here, and the site
# agent's API tests wherever they live).
CONTRACT_MODULES = tuple(
    path
    for path in sorted(EFP.glob("*/tests/test_*.py"))
    if path.name != "test_sdk_coverage.py" and "waldur_api_client.api." in path.read_text()
)
DOCS = EFP.parent / "docs" / "compatibility.md"
DOCS_START = "<!-- sdk-unserved:start (generated: python -m efp.marketplace.tests.sdk_catalogue) -->"
DOCS_END = "<!-- sdk-unserved:end -->"


@dataclass(frozen=True)
class Operation:
    name: str
    tag: str
    method: str
    path: str  # with `{}` for every path parameter
    success_codes: frozenset[str]
    query: frozenset[str] = frozenset()  # query parameters (filters, ordering, paging, `field`)


def normalise(path: str) -> str:
    return re.sub(r"\{[^}]*\}", "{}", path)


def sdk_operations(tags: tuple[str, ...] | None = TAGS) -> dict[str, Operation]:
    """Every operation of the SDK packages in `tags` (None: all of them), read from its generated module."""
    api = Path(waldur_api_client.__file__).parent / "api"
    if tags is None:
        tags = tuple(sorted(path.name for path in api.iterdir() if (path / "__init__.py").exists()))
    found = {}
    for tag in tags:
        for module in sorted((api / tag).glob("*.py")):
            if module.name == "__init__.py":
                continue
            source = module.read_text()
            method = re.search(r'"method": "(\w+)"', source)
            url = re.search(r'"url": f?"([^"]+)"', source)
            assert method and url, module
            codes = set(re.findall(r"response\.status_code == (\d+)", source)) - {"404", "401", "403"}
            query = frozenset(re.findall(r'params\["([^"]+)"\]', source))
            found[module.stem] = Operation(
                module.stem, tag, method.group(1).upper(), normalise(url.group(1)), frozenset(codes), query
            )
    return found


def served_operations(schema: dict[str, Any]) -> dict[str, Operation]:
    """Every operation of our OpenAPI schema, by operation id."""
    found = {}
    for path, item in schema["paths"].items():
        for method, op in item.items():
            if method == "parameters":
                continue
            codes = frozenset(code for code in op["responses"] if code.startswith("2"))
            query = frozenset(p["name"] for p in op.get("parameters", []) if p["in"] == "query")
            name = op["operationId"]
            found[name] = Operation(name, "", method.upper(), normalise(path), codes, query)
    return found


def exercised_operations() -> set[str]:
    """SDK operation modules imported by the contract suite (at module level or inside a test)."""
    names = set()
    for module in CONTRACT_MODULES:
        for node in ast.walk(ast.parse(module.read_text())):
            if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("waldur_api_client.api."):
                names.update(alias.name for alias in node.names)
    return names


def unserved_section(schema: dict[str, Any]) -> str:
    """The docs lists: per SDK package, the operations we do not serve; per operation we serve, the query
    parameters the SDK offers that we do not know (and therefore ignore)."""
    served, sdk = served_operations(schema), sdk_operations()
    lines = [DOCS_START, "", "Operations not served (404 or 405):", ""]
    for tag in TAGS:
        missing = [op for op in sdk.values() if op.tag == tag and op.name not in served]
        if missing:
            lines.append(f"- `{tag}` ({len(missing)}): " + ", ".join(f"`{op.name}`" for op in missing))
    lines += [
        "",
        "Query parameters of operations we serve that we ignore (the answer is not narrowed by them):",
        "",
    ]
    for op in sdk.values():
        ignored = sorted(op.query - served[op.name].query) if op.name in served else []
        if ignored and not op.name.endswith("_count"):  # a count takes its list's parameters
            lines.append(f"- `{op.name}`: " + ", ".join(f"`{name}`" for name in ignored))
    lines += ["", DOCS_END]
    return "\n".join(lines)


def documented_section() -> str:
    text = DOCS.read_text()
    start, end = text.index(DOCS_START), text.index(DOCS_END) + len(DOCS_END)
    return text[start:end]


def main() -> None:  # pragma: no cover - a developer's tool
    import django

    django.setup()
    from drf_spectacular.generators import SchemaGenerator

    schema = SchemaGenerator().get_schema(request=None, public=True)
    text = DOCS.read_text()
    DOCS.write_text(text.replace(documented_section(), unserved_section(schema)))
    print(f"rewrote the list of operations we do not serve in {DOCS}")


if __name__ == "__main__":  # pragma: no cover
    import os

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "efp.settings")
    main()
