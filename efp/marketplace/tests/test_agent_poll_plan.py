"""A site agent's order poll (`offering_uuid=…&state=pending-provider&state=executing`, as waldur-site-agent
sends it every minute) reads its offering's open orders through the partial index
`order_active_by_offering`, and keeps doing so once PostgreSQL plans the prepared statement generically.

Carol's agent polls offering O. The filter resolves the offering's uuid to its key first and writes the
chosen states into the SQL as constants: a generic plan can prove `state IN ('executing',
'pending-provider')` lies inside the index's predicate, but not a bound `$2`, and then walked every order
ever made (175 ms at 30,000 resources against 0.07 ms).
"""

from __future__ import annotations

import re
import unittest

from django.db import connection
from django.db.models import QuerySet
from django.test import RequestFactory
from psycopg.sql import Literal as sql_literal

from efp.marketplace.api.orders.filters import OrderFilter
from efp.marketplace.models import Order
from efp.marketplace.tests.base import MarketplaceTestCase

POLL = {"state": ["pending-provider", "executing"]}


class AgentPollPlanTests(MarketplaceTestCase):
    def poll_queryset(self) -> QuerySet[Order]:
        query = {**POLL, "offering_uuid": [self.offering.uuid.hex]}
        request = RequestFactory().get("/api/marketplace-orders/", query)
        request.user = self.carol
        return OrderFilter(request.GET, queryset=Order.objects.order_by("created", "id"), request=request).qs

    def test_the_states_are_constants_and_the_offering_a_key(self) -> None:
        sql, params = self.poll_queryset().query.sql_with_params()
        self.assertNotIn("pending-provider", [str(p) for p in params])
        self.assertIn("'executing', 'pending-provider'", sql)
        self.assertIn(self.offering.pk, params)  # the key, not a join on the uuid
        self.assertNotIn(self.offering.uuid.hex, "".join(str(p) for p in params).replace("-", ""))

    def test_an_unknown_state_is_a_400_not_sql(self) -> None:
        response = self.as_user(self.carol).get(self.url("/api/marketplace-orders/?state=x'%20OR%201=1--"))
        self.assertEqual(response.status_code, 400)
        self.assertIn("state", response.json())

    @unittest.skipUnless(connection.vendor == "postgresql", "generic plans are PostgreSQL's")
    def test_a_generic_plan_still_walks_the_partial_index(self) -> None:
        sql, params = self.poll_queryset().query.sql_with_params()
        counter = iter(range(1, len(params) + 1))
        prepared = re.sub(r"%s", lambda _: f"${next(counter)}", sql)
        raw = connection.connection
        values = ", ".join(sql_literal(value).as_string(raw) for value in params)
        # PREPARE's own $n and EXECUTE's values go through the simple protocol (the extended one would take
        # the $n as its own and refuses parameters in utility statements).
        with connection.cursor() as cursor:
            cursor.execute("SET LOCAL plan_cache_mode = force_generic_plan")
            for statement in (f"PREPARE agent_poll AS {prepared}", f"EXPLAIN EXECUTE agent_poll({values})"):
                result = raw.pgconn.exec_(statement.encode())
                self.assertEqual(result.error_message, b"")
            plan = "\n".join(result.get_value(row, 0).decode() for row in range(result.ntuples))
            raw.pgconn.exec_(b"DEALLOCATE agent_poll")
        self.assertIn("order_active_by_offering", plan)
