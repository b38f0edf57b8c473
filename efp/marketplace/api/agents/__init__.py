"""The site agent's own endpoints: `/api/marketplace-site-agent-identities/`,
`/api/marketplace-site-agent-services/` and `/api/marketplace-offering-users/`.

Visibility follows the offering: staff and support see all; otherwise the offering's organisation's
members and its offering managers (selectors.provider_offerings). Writes need the right to change the
offering (403 otherwise); what a user cannot see is 404.

Each family of the marketplace API has the same shape (docs/architecture.md): `serializers.py` (the wire
representation and the bodies it accepts), `filters.py` (its query-string filters), `views.py` (thin
viewsets: visible queryset 404, permission 403, input 400, service 409, render), and where needed
`querysets.py` (what a page reads, in a fixed number of queries) and `pages.py` (hand-written fast paths).
"""
