"""Resources: `/api/marketplace-provider-resources/` (docs/contract.md §6) and `/api/marketplace-resources/`.

Views are thin: visible queryset (404), permission predicate (403), validate (400), service (409), render.
Lists run a constant number of queries: related rows are joined or prefetched, `can_terminate` is an
annotation, and `limit_usage` sums are fetched once per page by the list serializer.

Each family of the marketplace API has the same shape (docs/architecture.md): `serializers.py` (the wire
representation and the bodies it accepts), `filters.py` (its query-string filters), `views.py` (thin
viewsets: visible queryset 404, permission 403, input 400, service 409, render), and where needed
`querysets.py` (what a page reads, in a fixed number of queries) and `pages.py` (hand-written fast paths).
"""
