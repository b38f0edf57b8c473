"""Server errors that schemathesis found by fuzzing the API against a running server, one class each."""

from __future__ import annotations

import unittest

from django.db import connection

from efp.marketplace.tests.base import MarketplaceTestCase


class SQLiteWriteLockTests(MarketplaceTestCase):
    """Concurrent POSTs to /api/marketplace-provider-offerings/ on SQLite answered 500 "database is locked".

    A deferred transaction that has read cannot wait for the write lock another connection holds: SQLite
    fails it at once. BEGIN IMMEDIATE takes the lock first, so the busy timeout applies.
    """

    def test_it_begins_sqlite_transactions_immediately(self) -> None:
        if connection.vendor != "sqlite":
            raise unittest.SkipTest("SQLite only")
        assert connection.settings_dict["OPTIONS"].get("transaction_mode") == "IMMEDIATE"
        assert connection.settings_dict["OPTIONS"].get("timeout", 0) >= 5
