"""The catalogue: `/api/marketplace-public-offerings/`, `-provider-offerings/`, `-plans/`, `-categories/`
and `-service-providers/` (docs/contract.md §4).

Each family of the marketplace API has the same shape (docs/architecture.md): `serializers.py` (the wire
representation and the bodies it accepts), `filters.py` (its query-string filters), `views.py` (thin
viewsets: visible queryset 404, permission 403, input 400, service 409, render), and where needed
`querysets.py` (what a page reads, in a fixed number of queries) and `pages.py` (hand-written fast paths).
"""
