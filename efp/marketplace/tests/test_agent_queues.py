"""Site agents' event queues: `register_queue` through Waldur's SDK, and the messages services push.

oscar manages offering O and registers its agent's queue with his token; RabbitMQ (127.0.0.1) holds the
queue, the agent's user and the messages, which the tests read back through its management API.
"""

from __future__ import annotations

import unittest
from typing import Any

import stomp
from django.test import SimpleTestCase, override_settings
from django_tasks_db.models import DBTaskResult
from waldur_api_client.api.marketplace_site_agent_identities import (
    marketplace_site_agent_identities_register_queue as register_queue,
)
from waldur_api_client.models import AgentQueueRegistrationRequest, ObservableObjectTypeEnum

from efp.accounts.services import issue_token
from efp.events.tests.running import run_tasks
from efp.marketplace import rabbitmq
from efp.marketplace.models import AgentIdentity, Order, Resource
from efp.marketplace.services import agents as agent_services
from efp.marketplace.services import orders as order_services
from efp.marketplace.services import resources as resource_services
from efp.marketplace.services.offering_users import create_offering_user, set_offering_username
from efp.marketplace.services.resources import set_resource_backend_id
from efp.marketplace.tests.factories import make_order
from efp.marketplace.tests.site_agent import broker
from efp.marketplace.tests.test_site_agent_api import SiteAgentApiTestCase, sdk, status_of
from efp.structure.roles import Role
from efp.structure.services import add_user_role, delete_user_role

REASON = broker.absent()
PUBLISH_TASK = "efp.marketplace.tasks.publish_agent_message"


def registered(identity: AgentIdentity) -> AgentIdentity:
    identity.refresh_from_db()
    return identity


@unittest.skipIf(REASON is not None, REASON or "")
@override_settings(EFP_RABBITMQ_URL=broker.URL)
class AgentQueueTestCase(SiteAgentApiTestCase):
    @classmethod
    def setUpClass(cls) -> None:
        broker.ready()
        super().setUpClass()

    def setUp(self) -> None:
        super().setUp()
        self.identity = self.register(self.oscar)

    def register_queue(self, user: Any, identity: AgentIdentity, types: list[str] | None = None) -> Any:
        body = AgentQueueRegistrationRequest(
            object_types=[ObservableObjectTypeEnum(t) for t in types] if types is not None else []
        )
        self.key = issue_token(user=user, name="site agent")[1]  # the queue's password: the key presented
        answer = register_queue.sync(uuid=identity.uuid.hex, client=sdk(user, self.key), body=body)
        identity.refresh_from_db()
        self.addCleanup(broker.drop_vhost, identity.rmq_vhost)  # runs last
        self.addCleanup(
            rabbitmq.remove_queue,
            vhost=identity.rmq_vhost,
            username=identity.rmq_username,
            queue=identity.queue_name,
        )
        return answer


class RegisterQueueTests(AgentQueueTestCase):
    def test_it_provisions_a_queue_read_with_the_callers_token(self) -> None:
        answer = self.register_queue(self.oscar, self.identity, ["order", "resource"])

        identity = registered(self.identity)
        assert answer.queue_name == f"consumer_{identity.uuid.hex}" == identity.queue_name
        assert answer.vhost == self.oscar.uuid.hex == identity.rmq_vhost
        assert answer.rmq_username == identity.rmq_username and len(answer.rmq_username) == 32
        assert answer.observable_object_types == ["order", "resource"] == identity.object_types
        assert rabbitmq.consumers(vhost=answer.vhost, queue=answer.queue_name) == 0
        # The agent's login: its user, the token it calls the API with, the owner's virtual host.
        connection = stomp.Connection([("127.0.0.1", broker.STOMP_PORT)], vhost=answer.vhost)
        connection.connect(answer.rmq_username, self.key, wait=True)
        connection.subscribe(destination=f"/amq/queue/{answer.queue_name}", id="1", ack="auto")
        assert rabbitmq.consumers(vhost=answer.vhost, queue=answer.queue_name) in (0, 1)
        connection.disconnect()

    def test_it_answers_the_same_queue_again_and_keeps_the_types_unless_told(self) -> None:
        first = self.register_queue(self.oscar, self.identity, ["order"])
        again = register_queue.sync_detailed(
            uuid=self.identity.uuid.hex, client=sdk(self.oscar), body=AgentQueueRegistrationRequest()
        )
        assert again.status_code == 200
        assert again.parsed is not None
        assert (again.parsed.rmq_username, again.parsed.queue_name) == (first.rmq_username, first.queue_name)
        assert again.parsed.observable_object_types == ["order"]
        every = self.register_queue(self.oscar, self.identity, [])
        assert "offering_user" in every.observable_object_types
        assert registered(self.identity).object_types == []

    def test_it_refuses_who_may_not_change_the_offering(self) -> None:
        body, key = AgentQueueRegistrationRequest(object_types=[]), self.identity.uuid.hex
        # rita sees the offering but may change nothing; dave does not see it.
        assert status_of(register_queue.sync, uuid=key, client=sdk(self.rita), body=body) == 403
        assert status_of(register_queue.sync, uuid=key, client=sdk(self.dave), body=body) == 404
        assert registered(self.identity).rmq_username == ""

    @override_settings(EFP_RABBITMQ_URL="")
    def test_it_says_agents_poll_when_no_broker_is_set(self) -> None:
        response = self.as_user(self.oscar).post(
            f"/api/marketplace-site-agent-identities/{self.identity.uuid.hex}/register_queue/",
            {"object_types": ["order"]},
            format="json",
        )
        assert response.status_code == 400
        assert "EFP_RABBITMQ_URL" in str(response.json())
        assert registered(self.identity).rmq_username == ""


class PushedMessageTests(AgentQueueTestCase):
    def test_it_pushes_a_new_order_after_commit_to_the_queues_that_want_orders(self) -> None:
        orders_queue = self.register_queue(self.oscar, self.identity, ["order"])
        resources_only = self.register(self.oscar, name="agent-resources")
        resources_queue = self.register_queue(self.oscar, resources_only, ["resource"])

        with self.captureOnCommitCallbacks(execute=True):
            order = make_order(self.alice, self.project_a1, self.offering, name="pushed")
        # Created by alice, then approved on her side: two moves, two messages, sent by the worker.
        assert DBTaskResult.objects.filter(task_path=PUBLISH_TASK).count() == 2
        assert broker.take_messages(orders_queue.vhost, orders_queue.queue_name) == []
        run_tasks()

        order = Order.objects.get(pk=order.pk)
        created, message = broker.take_messages(orders_queue.vhost, orders_queue.queue_name)
        assert (created["order_uuid"], created["order_state"]) == (order.uuid.hex, "pending-consumer")
        assert message["object_type"] == "order"
        assert message["order_uuid"] == order.uuid.hex
        assert message["order_state"] == "pending-provider" == order.state
        assert message["order_type"] == "Create"
        assert message["offering_uuid"] == self.offering.uuid.hex
        assert message["resource_uuid"] == order.resource.uuid.hex
        assert message["project_uuid"] == self.project_a1.uuid.hex
        assert broker.take_messages(resources_queue.vhost, resources_queue.queue_name) == []

        order_services.approve_order_by_provider(order=order, user=self.carol)
        run_tasks()
        (approved,) = broker.take_messages(orders_queue.vhost, orders_queue.queue_name)
        assert (approved["order_uuid"], approved["order_state"]) == (order.uuid.hex, "executing")

    def test_it_pushes_offering_users_with_the_resources_to_add_them_to(self) -> None:
        queue = self.register_queue(self.oscar, self.identity, ["offering_user"])
        order = make_order(self.alice, self.project_a1, self.offering, name="shared")
        order_services.approve_order_by_provider(order=order, user=self.carol)
        order_services.complete_order(order=Order.objects.get(pk=order.pk), user=self.carol)
        resource = Order.objects.get(pk=order.pk).resource
        set_resource_backend_id(resource=resource, user=self.carol, backend_id="acc_shared")
        account = create_offering_user(actor=self.oscar, offering=self.offering, user=self.bob, username="")
        set_offering_username(actor=self.oscar, offering_user=account, username="bob_hpc")
        run_tasks()

        created, named = broker.take_messages(queue.vhost, queue.queue_name)
        assert (created["object_type"], created["action"], created["user_uuid"]) == (
            "offering_user",
            "create",
            self.bob.uuid.hex,
        )
        assert (named["action"], named["username"], named["resource_backend_ids"]) == (
            "username_set",
            "bob_hpc",
            ["acc_shared"],
        )

    def ok_resource(self, name: str, backend_id: str) -> Resource:
        order = make_order(self.alice, self.project_a1, self.offering, name=name)
        order_services.approve_order_by_provider(order=order, user=self.carol)
        order_services.complete_order(order=Order.objects.get(pk=order.pk), user=self.carol)
        resource = Order.objects.get(pk=order.pk).resource
        assert resource is not None
        set_resource_backend_id(resource=resource, user=self.carol, backend_id=backend_id)
        return Resource.objects.get(pk=resource.pk)

    def test_it_names_the_backend_account_in_resource_and_order_messages(self) -> None:
        queue = self.register_queue(self.oscar, self.identity, ["order", "resource"])
        resource = self.ok_resource("named", "acc_named")
        broker.take_messages(queue.vhost, queue.queue_name)  # the Create order's messages, before any run
        run_tasks()
        broker.take_messages(queue.vhost, queue.queue_name)

        resource_services.set_resource_limits(resource=resource, user=self.oscar, limits={"storage": 5})
        terminate = order_services.terminate_resource(resource=resource, user=self.alice)
        run_tasks()

        messages = broker.take_messages(queue.vhost, queue.queue_name)
        limits = next(m for m in messages if m["object_type"] == "resource")
        assert (limits["resource_uuid"], limits["resource_backend_id"]) == (resource.uuid.hex, "acc_named")
        assert (limits["resource_state"], limits["limits"]) == ("OK", {"storage": 5})
        assert (limits["downscaled"], limits["restrict_member_access"], limits["paused"]) == (False,) * 3
        ordered = [m for m in messages if m["object_type"] == "order"]
        assert {m["order_uuid"] for m in ordered} == {terminate.uuid.hex}
        assert {m["resource_backend_id"] for m in ordered} == {"acc_named"}

    def test_it_pushes_a_project_role_granted_and_revoked_to_offerings_with_an_ok_resource(self) -> None:
        queue = self.register_queue(self.oscar, self.identity, ["user_role"])
        add_user_role(scope=self.project_a1, user=self.dave, role=Role.PROJECT_MEMBER, actor=self.alice)
        run_tasks()
        assert broker.take_messages(queue.vhost, queue.queue_name) == []  # no allocation in A1 yet

        self.ok_resource("roles", "acc_roles")
        delete_user_role(scope=self.project_a1, user=self.dave, role=Role.PROJECT_MEMBER, actor=self.alice)
        add_user_role(scope=self.project_a1, user=self.dave, role=Role.PROJECT_ADMIN, actor=self.alice)
        add_user_role(scope=self.org_a, user=self.dave, role=Role.CUSTOMER_SUPPORT, actor=self.alice)
        run_tasks()

        revoked, granted = broker.take_messages(queue.vhost, queue.queue_name)
        assert revoked == {
            "object_type": "user_role",
            "offering_uuid": self.offering.uuid.hex,
            "user_uuid": self.dave.uuid.hex,
            "user_username": "dave",
            "user_email": self.dave.email,
            "user_full_name": self.dave.get_full_name(),
            "project_uuid": self.project_a1.uuid.hex,
            "project_name": "Project A1",
            "role_name": "PROJECT.MEMBER",
            "granted": False,
        }
        assert (granted["role_name"], granted["granted"]) == ("PROJECT.ADMIN", True)

    @override_settings(EFP_RABBITMQ_URL="")
    def test_it_enqueues_nothing_when_agents_poll(self) -> None:
        make_order(self.alice, self.project_a1, self.offering, name="polled")
        assert not DBTaskResult.objects.filter(task_path=PUBLISH_TASK).exists()

    def test_it_removes_the_queue_with_its_identity(self) -> None:
        queue = self.register_queue(self.oscar, self.identity, ["order"])
        agent_services.delete_agent_identity(identity=self.identity, user=self.oscar)
        run_tasks()
        with self.assertRaises(rabbitmq.BrokerError):  # 404: the queue is gone
            rabbitmq.consumers(vhost=queue.vhost, queue=queue.queue_name)


class BrokerSettingsTests(SimpleTestCase):
    @override_settings(EFP_RABBITMQ_URL="", EFP_RABBITMQ_MANAGEMENT_URL="")
    def test_it_has_no_broker_when_agents_poll(self) -> None:
        assert rabbitmq.broker() is None

    @override_settings(
        EFP_RABBITMQ_URL="amqp://efp:s%40cret@mq.example.org:5672/", EFP_RABBITMQ_MANAGEMENT_URL=""
    )
    def test_it_finds_the_management_api_beside_the_broker(self) -> None:
        assert rabbitmq.broker() == rabbitmq.Broker("http://mq.example.org:15672/api", "efp", "s@cret")

    @override_settings(
        EFP_RABBITMQ_URL="amqp://efp:secret@mq.example.org/",
        EFP_RABBITMQ_MANAGEMENT_URL="https://admin:other@mgmt.example.org:443/rabbit/",
    )
    def test_it_takes_the_management_url_and_its_credentials_when_given(self) -> None:
        assert rabbitmq.broker() == rabbitmq.Broker(
            "https://mgmt.example.org:443/rabbit/api", "admin", "other"
        )
