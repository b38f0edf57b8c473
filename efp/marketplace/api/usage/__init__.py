"""Usage: `/api/marketplace-component-usages/` (docs/contract.md §7),
`/api/marketplace-component-user-usages/` (§8).

Every write goes through `services.usage`; calls whose User-Agent names the Waldur site agent are recorded
with the agent as their source.

Each family of the marketplace API has the same shape (docs/architecture.md): `serializers.py` (the wire
representation and the bodies it accepts), `filters.py` (its query-string filters), `views.py` (thin
viewsets: visible queryset 404, permission 403, input 400, service 409, render), and where needed
`querysets.py` (what a page reads, in a fixed number of queries) and `pages.py` (hand-written fast paths).
"""
