"""The transition tables, exhaustively, and the one function that applies them."""

from __future__ import annotations

import ast
import re
import tempfile
from pathlib import Path

from django.contrib import admin
from django.test import TestCase

from efp.errors import StateConflict
from efp.marketplace.models import Order, OrderEvent, Resource, ResourceEvent
from efp.marketplace.services._transitions import transition_order, transition_resource
from efp.marketplace.states import (
    ORDER_TRANSITIONS,
    RESOURCE_TRANSITIONS,
    OrderState,
    ResourceState,
    order_can_move,
    resource_can_move,
)
from efp.marketplace.tests.base import MarketplaceTestCase
from efp.marketplace.tests.factories import make_order

OS = OrderState
RS = ResourceState

# The lifecycle as the contract draws it (§5.1, §3, §4 "Resource"), written out pair by pair so that a
# change to states.py has to be made twice, on purpose.
EXPECTED_ORDER_MOVES = {
    (OS.PENDING_CONSUMER, OS.PENDING_PROVIDER),
    (OS.PENDING_CONSUMER, OS.PENDING_PROJECT),
    (OS.PENDING_CONSUMER, OS.EXECUTING),
    (OS.PENDING_CONSUMER, OS.REJECTED),
    (OS.PENDING_CONSUMER, OS.CANCELED),
    (OS.PENDING_CONSUMER, OS.ERRED),
    (OS.PENDING_PROJECT, OS.PENDING_PROVIDER),
    (OS.PENDING_PROJECT, OS.EXECUTING),
    (OS.PENDING_PROJECT, OS.REJECTED),
    (OS.PENDING_PROJECT, OS.CANCELED),
    (OS.PENDING_PROJECT, OS.ERRED),
    (OS.PENDING_PROVIDER, OS.EXECUTING),
    (OS.PENDING_PROVIDER, OS.PENDING_START_DATE),
    (OS.PENDING_PROVIDER, OS.REJECTED),
    (OS.PENDING_PROVIDER, OS.CANCELED),
    (OS.PENDING_PROVIDER, OS.ERRED),
    (OS.PENDING_START_DATE, OS.EXECUTING),
    (OS.PENDING_START_DATE, OS.CANCELED),
    (OS.PENDING_START_DATE, OS.ERRED),
    (OS.EXECUTING, OS.DONE),
    (OS.EXECUTING, OS.CANCELED),
    (OS.EXECUTING, OS.ERRED),
    (OS.ERRED, OS.EXECUTING),
}

EXPECTED_RESOURCE_MOVES = {
    (RS.CREATING, RS.OK),
    (RS.CREATING, RS.ERRED),
    (RS.CREATING, RS.TERMINATING),
    (RS.CREATING, RS.TERMINATED),
    (RS.OK, RS.UPDATING),
    (RS.OK, RS.TERMINATING),
    (RS.OK, RS.ERRED),
    (RS.OK, RS.TERMINATED),
    (RS.UPDATING, RS.OK),
    (RS.UPDATING, RS.ERRED),
    (RS.UPDATING, RS.TERMINATING),
    (RS.UPDATING, RS.TERMINATED),
    (RS.TERMINATING, RS.OK),
    (RS.TERMINATING, RS.ERRED),
    (RS.TERMINATING, RS.TERMINATED),
    (RS.ERRED, RS.OK),
    (RS.ERRED, RS.CREATING),
    (RS.ERRED, RS.UPDATING),
    (RS.ERRED, RS.TERMINATING),
    (RS.ERRED, RS.TERMINATED),
    (RS.TERMINATED, RS.CREATING),  # restored: only a Restore order brings it back
}

ALL_ORDER_PAIRS = [(old, new) for old in OrderState for new in OrderState]
ALL_RESOURCE_PAIRS = [(old, new) for old in ResourceState for new in ResourceState]


class TransitionTableTests(TestCase):
    def test_it_covers_every_order_state(self) -> None:
        assert set(ORDER_TRANSITIONS) == set(OrderState)

    def test_it_covers_every_resource_state(self) -> None:
        assert set(RESOURCE_TRANSITIONS) == set(ResourceState)

    def test_it_allows_exactly_the_expected_order_moves(self) -> None:
        for old, new in ALL_ORDER_PAIRS:
            with self.subTest(old=old.value, new=new.value):
                assert order_can_move(old, new) == ((old, new) in EXPECTED_ORDER_MOVES)

    def test_it_allows_exactly_the_expected_resource_moves(self) -> None:
        for old, new in ALL_RESOURCE_PAIRS:
            with self.subTest(old=old.value, new=new.value):
                assert resource_can_move(old, new) == ((old, new) in EXPECTED_RESOURCE_MOVES)

    def test_it_never_leaves_a_final_state_except_erred_orders_and_restored_resources(self) -> None:
        for final in (OS.DONE, OS.CANCELED, OS.REJECTED):
            assert ORDER_TRANSITIONS[final] == frozenset()
        assert ORDER_TRANSITIONS[OS.ERRED] == frozenset({OS.EXECUTING})
        assert RESOURCE_TRANSITIONS[RS.TERMINATED] == frozenset({RS.CREATING})

    def test_it_accepts_wire_strings(self) -> None:
        assert order_can_move("pending-provider", "executing")
        assert not order_can_move("done", "executing")
        assert resource_can_move("Creating", "OK")
        assert not resource_can_move("Terminated", "OK")


class TransitionFunctionTests(MarketplaceTestCase):
    """transition_order / transition_resource on every pair: allowed → moved + event, refused → 409."""

    def setUp(self) -> None:
        self.order = make_order(self.alice, self.project_a1, self.offering)
        self.resource = self.order.resource

    def _force_order(self, state: OrderState) -> Order:
        # Tests may put rows in any state; product code may not (see NoStrayStateWritesTests).
        Order.objects.filter(pk=self.order.pk).update(state=state)
        return Order.objects.get(pk=self.order.pk)

    def _force_resource(self, state: ResourceState) -> Resource:
        Resource.objects.filter(pk=self.resource.pk).update(state=state)
        return Resource.objects.get(pk=self.resource.pk)

    def test_it_applies_every_allowed_order_move_and_records_it(self) -> None:
        for old, new in sorted(EXPECTED_ORDER_MOVES):
            with self.subTest(old=old.value, new=new.value):
                order = self._force_order(old)
                events = OrderEvent.objects.filter(order=order).count()
                moved = transition_order(order, new, actor=self.carol, reason="test")
                assert moved.state == new
                assert Order.objects.get(pk=order.pk).state == new
                assert OrderEvent.objects.filter(order=order).count() == events + 1
                event = OrderEvent.objects.filter(order=order).latest("pk")
                assert (event.old_state, event.new_state, event.actor, event.reason) == (
                    old,
                    new,
                    self.carol,
                    "test",
                )

    def test_it_refuses_every_order_move_outside_the_table(self) -> None:
        refused = [pair for pair in ALL_ORDER_PAIRS if pair not in EXPECTED_ORDER_MOVES]
        assert len(refused) == 81 - len(EXPECTED_ORDER_MOVES)
        for old, new in refused:
            with self.subTest(old=old.value, new=new.value):
                order = self._force_order(old)
                events = OrderEvent.objects.filter(order=order).count()
                with self.assertRaises(StateConflict):
                    transition_order(order, new, actor=self.carol)
                assert Order.objects.get(pk=order.pk).state == old
                assert OrderEvent.objects.filter(order=order).count() == events

    def test_it_applies_every_allowed_resource_move_and_records_it(self) -> None:
        for old, new in sorted(EXPECTED_RESOURCE_MOVES):
            with self.subTest(old=old.value, new=new.value):
                resource = self._force_resource(old)
                events = ResourceEvent.objects.filter(resource=resource).count()
                moved = transition_resource(resource, new, actor=self.carol, reason="test")
                assert moved.state == new
                assert Resource.objects.get(pk=resource.pk).state == new
                assert ResourceEvent.objects.filter(resource=resource).count() == events + 1
                event = ResourceEvent.objects.filter(resource=resource).latest("pk")
                assert (event.old_state, event.new_state, event.actor) == (old, new, self.carol)

    def test_it_refuses_every_resource_move_outside_the_table(self) -> None:
        refused = [
            (old, new)
            for old, new in ALL_RESOURCE_PAIRS
            if (old, new) not in EXPECTED_RESOURCE_MOVES and old != new
        ]
        for old, new in refused:
            with self.subTest(old=old.value, new=new.value):
                resource = self._force_resource(old)
                events = ResourceEvent.objects.filter(resource=resource).count()
                with self.assertRaises(StateConflict):
                    transition_resource(resource, new, actor=self.carol)
                assert Resource.objects.get(pk=resource.pk).state == old
                assert ResourceEvent.objects.filter(resource=resource).count() == events

    def test_it_treats_a_resource_staying_put_as_a_field_update_without_event(self) -> None:
        for state in ResourceState:
            with self.subTest(state=state.value):
                resource = self._force_resource(state)
                events = ResourceEvent.objects.filter(resource=resource).count()
                transition_resource(resource, state, actor=self.carol, error_message=f"note {state}")
                resource.refresh_from_db()
                assert resource.state == state
                assert resource.error_message == f"note {state}"
                assert ResourceEvent.objects.filter(resource=resource).count() == events

    def test_it_refuses_a_stale_order_object(self) -> None:
        stale = Order.objects.get(pk=self.order.pk)
        assert stale.state == OS.PENDING_PROVIDER
        transition_order(Order.objects.get(pk=self.order.pk), OS.EXECUTING, actor=self.carol)
        with self.assertRaises(StateConflict):
            transition_order(stale, OS.REJECTED, actor=self.oscar)
        assert Order.objects.get(pk=self.order.pk).state == OS.EXECUTING
        assert not OrderEvent.objects.filter(order=self.order, new_state=OS.REJECTED).exists()

    def test_it_refuses_a_stale_resource_object(self) -> None:
        stale = Resource.objects.get(pk=self.resource.pk)
        transition_resource(Resource.objects.get(pk=self.resource.pk), RS.OK, actor=self.carol)
        with self.assertRaises(StateConflict):
            transition_resource(stale, RS.TERMINATED, actor=self.carol)
        assert Resource.objects.get(pk=self.resource.pk).state == RS.OK

    def test_it_names_the_valid_states_in_the_conflict(self) -> None:
        order = self._force_order(OS.DONE)
        with self.assertRaises(StateConflict) as caught:
            transition_order(order, OS.EXECUTING, actor=self.carol)
        assert str(caught.exception).startswith("Valid states for operation: ")
        assert "pending-provider" in str(caught.exception)


EFP = Path(__file__).resolve().parents[2]
SEED = EFP.parent / "bench" / "scale_seed"
# The only modules allowed to write `state` on orders and resources: the transition module, and the scale
# seed, which loads a history in bulk past the services' guard. The seed is allowed only because
# test_scale_seed.py checks every (old, new) event pair it writes against the transition tables; without
# that test it would be a second, unchecked writer of the lifecycle.
# Web hook deliveries have a state of their own (pending, delivered, failed), written only by their service.
STATE_WRITERS = {
    EFP / "marketplace" / "services" / "_transitions.py",
    EFP / "hooks" / "services.py",
    *SEED.glob("*.py"),
}
WRITE_METHODS = {"update", "create", "get_or_create", "update_or_create", "bulk_update", "update_row"}
# Other models that have a `state` of their own, written by their services: offerings (Draft/Active/...),
# offering users (OK/...), the services a site agent registers (Active/Error/Idle) and invoices
# (pending/created, efp/invoices/services.py).
OTHER_STATEFUL = ("Offering", "AgentService", "Invoice")
OTHER_TABLES = re.compile(r"offering|agentservice", re.IGNORECASE)
LIFECYCLE_MODELS = {"Order", "Resource"}
# Hand-written SQL that sets a `state` column: UPDATE ... SET ... state =, or a column list (INSERT, COPY)
# naming it. `old_state`/`new_state` (the event tables) are other words.
SQL_WRITES = (
    re.compile(r"\bUPDATE\s+(?P<table>\S+)[^;]*?\bSET\b(?:(?!\bWHERE\b)[^;])*?\bstate\W*\s*=", re.I | re.S),
    re.compile(r"\b(?:INSERT\s+INTO|COPY)\s+(?P<table>\S+)\s*\([^)]*\bstate\b", re.I | re.S),
)


def _product_sources() -> list[Path]:
    """Every module that could write: the project package (tests and migrations aside) and the seed."""
    found = [*EFP.rglob("*.py"), *SEED.glob("*.py")]
    return [path for path in found if "tests" not in path.parts and "migrations" not in path.parts]


def _names_state(node: ast.AST | None) -> bool:
    """A literal list, tuple, set or dict (keys) of strings that names the `state` column."""
    if isinstance(node, ast.List | ast.Tuple | ast.Set):
        return any(isinstance(item, ast.Constant) and item.value == "state" for item in node.elts)
    if isinstance(node, ast.Dict):
        return any(isinstance(key, ast.Constant) and key.value == "state" for key in node.keys)
    return False


def _sql_text(node: ast.AST) -> str | None:
    """The text of a string constant, or of an f-string with its placeholders left as `{}`."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value
    if isinstance(node, ast.JoinedStr):
        return "".join(v.value if isinstance(v, ast.Constant) else "{}" for v in node.values)
    return None


def _stray_state_writes(path: Path) -> list[str]:
    tree = ast.parse(path.read_text(), filename=str(path))
    found = []
    # Column lists kept in module constants (ORDER_COLUMNS = [..., "state", ...]) and passed to a bulk load.
    column_lists = {
        target.id
        for node in tree.body
        if isinstance(node, ast.Assign) and _names_state(node.value)
        for target in node.targets
        if isinstance(target, ast.Name)
    }
    in_fstrings = {
        id(part) for node in ast.walk(tree) if isinstance(node, ast.JoinedStr) for part in node.values
    }
    for node in ast.walk(tree):
        targets: list[ast.expr] = []
        if isinstance(node, ast.Assign):
            targets = list(node.targets)
        elif isinstance(node, ast.AugAssign | ast.AnnAssign):
            targets = [node.target]
        for target in targets:
            if isinstance(target, ast.Attribute) and target.attr == "state":
                found.append(f"{path}:{node.lineno}: {ast.unparse(target)} = ...")
        text = _sql_text(node)
        if text is not None and id(node) not in in_fstrings:
            for pattern in SQL_WRITES:
                match = pattern.search(text)
                if match and not OTHER_TABLES.search(match["table"]):
                    found.append(f"{path}:{node.lineno}: SQL writing state: {text[:60]!r}")
        if not isinstance(node, ast.Call):
            continue
        func = node.func
        name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
        receiver = ast.unparse(func.value) if isinstance(func, ast.Attribute) else ""
        first = ast.unparse(node.args[0]) if node.args else ""
        if name == "update_row":
            receiver = first  # efp.rawsql.update_row(Model, pk, **values)
        keywords = {kw.arg for kw in node.keywords}
        unpacked = any(kw.arg is None and _names_state(kw.value) for kw in node.keywords)  # **{"state": ...}
        if (
            name in WRITE_METHODS
            and ("state" in keywords or unpacked)
            and not receiver.startswith(OTHER_STATEFUL)
        ):
            found.append(f"{path}:{node.lineno}: {ast.unparse(func)}(state=...)")
        if name in LIFECYCLE_MODELS and ("state" in keywords or unpacked):
            found.append(f"{path}:{node.lineno}: {name}(state=...)")
        if name == "setattr" and len(node.args) >= 2 and ast.unparse(node.args[1]) in {"'state'", '"state"'}:
            found.append(f"{path}:{node.lineno}: setattr(..., 'state', ...)")
        for kw in node.keywords:
            if kw.arg == "update_fields" and _names_state(kw.value):
                found.append(f"{path}:{node.lineno}: save(update_fields=[... 'state' ...])")
        fields = [*node.args, *(kw.value for kw in node.keywords if kw.arg == "fields")]
        if name == "bulk_update" and any(_names_state(arg) for arg in fields):
            found.append(f"{path}:{node.lineno}: bulk_update(..., [... 'state' ...])")
        if name == "bulk_create" and receiver.split(".")[0] in LIFECYCLE_MODELS:
            found.append(f"{path}:{node.lineno}: {receiver}.bulk_create(...): orders or resources in bulk")
        # Orders and resources loaded in bulk with a column list (literal, or a constant such as an imported
        # ORDER_COLUMNS) get a state whether or not the list names it: the model's default fills it in.
        columns = [
            arg
            for arg in node.args[1:]
            if (isinstance(arg, ast.List | ast.Tuple) and all(isinstance(e, ast.Constant) for e in arg.elts))
            or (isinstance(arg, ast.Name) and (arg.id in column_lists or arg.id.isupper()))
        ]
        if first in LIFECYCLE_MODELS and columns:
            found.append(f"{path}:{node.lineno}: {name}({first}, <columns>, ...): a bulk load")
    return found


class NoStrayStateWritesTests(TestCase):
    def test_it_finds_no_state_writes_outside_the_transition_module(self) -> None:
        sources = _product_sources()
        assert len(sources) > 20 and set(SEED.glob("*.py")) <= set(sources)  # it looked at the code base
        stray = [line for path in sources if path not in STATE_WRITERS for line in _stray_state_writes(path)]
        assert stray == [], "state written outside services/_transitions.py:\n" + "\n".join(stray)

    def test_it_would_notice_a_stray_write(self) -> None:
        strays = {
            "order.state = 'done'": 1,
            "Order.objects.filter(pk=1).update(state='done')": 1,
            "Order.objects.filter(pk=1).update(**{'state': 'done'})": 1,
            "Resource.objects.create(state='OK')": 1,
            "insert_row(Order(state='done'))": 1,
            "update_row(Resource, 1, state='OK')": 1,
            "cursor.execute('UPDATE marketplace_order SET state = %s WHERE id = %s', [new, pk])": 1,
            'cursor.execute(f"UPDATE {table} o SET modified = %s, \\"state\\" = %s", params)': 1,
            "cursor.execute(f'INSERT INTO {table} (uuid, state, type) VALUES (%s, %s, %s)', params)": 1,
            "copy = cursor.copy('COPY marketplace_resource (id, state) FROM STDIN')": 1,
            "Order.objects.bulk_update(orders, ['state', 'modified'])": 1,
            "Resource.objects.bulk_update(resources, fields=['state'])": 1,
            "Resource.objects.bulk_create(resources)": 1,
            "insert(Resource, ['id', 'state'], rows)": 1,
            "insert(Resource, ['id', 'name'], rows)": 1,
            "COLUMNS = ['id', 'state']\ninsert(Order, COLUMNS, rows)": 1,
            "from bench.scale_seed.history import ORDER_COLUMNS\ninsert(Order, ORDER_COLUMNS, rows)": 1,
        }
        harmless = [
            "Offering.objects.create(state='Active')",
            "update_row(Offering, 1, state='Active')",
            "cursor.execute('UPDATE marketplace_offering SET state = %s', [s])",
            "cursor.execute('UPDATE marketplace_order SET modified = %s WHERE state = %s', [now, s])",
            "cursor.execute('INSERT INTO marketplace_orderevent (old_state, new_state) VALUES (%s, %s)', p)",
            "OrderEvent.objects.bulk_create(events)",
            "Resource.objects.bulk_update(resources, ['current_usages'])",
            "Order.objects.filter(state='done').values_list('state', flat=True)",
            "fields = ('uuid', 'state')",
            "models.Index(fields=['state', 'offering'])",
            "update_row(Resource, pk, current_usages=current)",
            "insert(OrderEvent, EVENT_COLUMNS, events)",
        ]
        with tempfile.TemporaryDirectory() as folder:
            sample = Path(folder) / "sample.py"
            for code, count in [*strays.items(), *((code, 0) for code in harmless)]:
                sample.write_text(code + "\n")
                assert len(_stray_state_writes(sample)) == count, code

    def test_it_sees_the_bulk_loads_it_allows(self) -> None:
        """The seed is allowed, not invisible: without its allowance the scan would flag its bulk loads."""
        seen = [line for path in sorted(SEED.glob("*.py")) for line in _stray_state_writes(path)]
        assert any("bulk load" in line for line in seen), seen

    def test_it_keeps_state_read_only_in_the_admin(self) -> None:
        for model in (Order, Resource):
            model_admin = admin.site._registry[model]
            assert "state" in model_admin.readonly_fields, model.__name__
