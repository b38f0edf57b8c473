"""Tasks of the marketplace app: a message for site agents' event queues (`agent_messages.py`)."""

from __future__ import annotations

from typing import Any

from django_tasks import task


@task()
def publish_agent_message(offering_id: int, object_type: str, payload: dict[str, Any]) -> str:
    """Sends one order, resource or offering-user message to the offering's agents that asked for it."""
    from efp.marketplace.agent_messages import publish  # agent_messages enqueues this task

    return publish(offering_id=offering_id, object_type=object_type, payload=payload)


@task()
def remove_agent_queue(vhost: str, rmq_username: str, queue_name: str) -> str:
    """A deleted agent identity's queue and RabbitMQ user."""
    from efp.marketplace import rabbitmq

    rabbitmq.remove_queue(vhost=vhost, username=rmq_username, queue=queue_name)
    return f"removed {queue_name}"
