"""What happens to API tokens, for whoever keeps a record of access (the access audit listens).

Each is sent by `efp.accounts` token services inside the transaction that made the change, with keyword
arguments `token` (the token row, never its secret), `actor` (who did it; None for the system) and
`address` (the client's address, or "" when there is no request).
"""

from __future__ import annotations

from django.dispatch import Signal

token_created = Signal()
token_revoked = Signal()
# The first use of a token from an address other than the one it was last used from.
token_used_from_new_address = Signal()
