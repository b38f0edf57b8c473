"""When a failed delivery is tried again, as data: the delay after each failed attempt.

The first retry comes 10 s after the first failure, the second a minute after that, then the gaps grow
to 8 hours; twelve attempts span about 32 hours (at least 24, as promised), then the delivery is failed.
A hook whose deliveries have failed for `DEACTIVATE_AFTER` with no success since is deactivated.
"""

from __future__ import annotations

import datetime

_S = datetime.timedelta(seconds=1)
_M = datetime.timedelta(minutes=1)
_H = datetime.timedelta(hours=1)

RETRY_DELAYS: tuple[datetime.timedelta, ...] = (
    10 * _S, 1 * _M, 5 * _M, 15 * _M, 30 * _M, 1 * _H, 2 * _H, 4 * _H, 8 * _H, 8 * _H, 8 * _H,
)  # fmt: skip
DEACTIVATE_AFTER = datetime.timedelta(days=3)
# A worker holds a claimed delivery for the request timeout plus this; a crashed worker's claim expires.
LEASE_MARGIN = datetime.timedelta(seconds=50)


def retry_delay(failed_attempt: int) -> datetime.timedelta | None:
    """The wait after attempt number `failed_attempt` (1-based) failed; None: no attempt is left."""
    if 1 <= failed_attempt <= len(RETRY_DELAYS):
        return RETRY_DELAYS[failed_attempt - 1]
    return None
