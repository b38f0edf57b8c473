"""Site agents registering themselves: identities, their services and processors.

The agent calls these on every start and every cycle, so each verb is idempotent by name. Only people who
may change the offering (its organisation's owners and service managers, its offering managers, staff)
may register an agent for it. `register_agent_queue` also makes the agent's event queue in RabbitMQ
(`rabbitmq.py`), outside any transaction, as Waldur does.
"""

from __future__ import annotations

import datetime
import uuid
from dataclasses import dataclass, field
from typing import Any

from django.db import IntegrityError, transaction
from django.utils import timezone

from efp.accounts.models import User
from efp.errors import Forbidden, InvalidInput
from efp.marketplace import agent_messages, rabbitmq
from efp.marketplace.models import AgentIdentity, AgentProcessor, AgentService, Offering
from efp.structure.permissions import has_permission
from efp.structure.roles import Permission


def can_manage_agents(user: Any, offering: Offering) -> bool:
    return has_permission(
        user, Permission.OFFERING_UPDATE, customers=[offering.customer], offerings=[offering]
    )


def _require(user: Any, offering: Offering) -> None:
    if not can_manage_agents(user, offering):
        raise Forbidden()


@dataclass(frozen=True)
class IdentityData:
    """What an agent says about itself (AgentIdentityRequest)."""

    offering: Offering
    name: str
    version: str = ""
    dependencies: list[dict[str, str]] = field(default_factory=list)
    config_file_path: str = ""
    config_file_content: str = ""
    last_restarted: datetime.datetime | None = None


def _fields(data: IdentityData) -> dict[str, Any]:
    return {
        "offering": data.offering,
        "name": data.name,
        "version": data.version,
        "dependencies": [dict(item) for item in data.dependencies],
        "config_file_path": data.config_file_path,
        "config_file_content": data.config_file_content,
        "last_restarted": data.last_restarted,
    }


def _taken(offering: Offering, name: str, exclude: AgentIdentity | None = None) -> bool:
    qs = AgentIdentity.objects.filter(offering=offering, name=name)
    if exclude is not None:
        qs = qs.exclude(pk=exclude.pk)
    return qs.exists()


def _duplicate() -> InvalidInput:
    return InvalidInput({"non_field_errors": ["The fields offering, name must make a unique set."]})


@transaction.atomic
def create_agent_identity(*, user: User, data: IdentityData) -> AgentIdentity:
    _require(user, data.offering)
    if _taken(data.offering, data.name):
        raise _duplicate()
    try:
        with transaction.atomic():
            return AgentIdentity.objects.create(**_fields(data), created_by=user)
    except IntegrityError as error:  # a concurrent registration with the same name won
        raise _duplicate() from error


@transaction.atomic
def update_agent_identity(*, identity: AgentIdentity, user: User, data: IdentityData) -> AgentIdentity:
    """A full update (PUT); moving an identity to another offering needs rights on both."""
    _require(user, identity.offering)
    _require(user, data.offering)
    if _taken(data.offering, data.name, exclude=identity):
        raise _duplicate()
    AgentIdentity.objects.filter(pk=identity.pk).update(**_fields(data), modified=timezone.now())
    identity.refresh_from_db()
    return identity


@transaction.atomic
def delete_agent_identity(*, identity: AgentIdentity, user: User) -> None:
    """Deletes the identity; its event queue and RabbitMQ user go after commit, from the worker."""
    _require(user, identity.offering)
    AgentIdentity.objects.filter(pk=identity.pk).delete()
    if identity.rmq_username:
        from efp.marketplace.tasks import remove_agent_queue  # the task module imports services

        remove_agent_queue.enqueue(identity.rmq_vhost, identity.rmq_username, identity.queue_name)


@dataclass(frozen=True)
class QueueRegistration:
    """What `register_queue` answers (Waldur's AgentQueueRegistrationResponse)."""

    rmq_username: str
    queue_name: str
    vhost: str
    observable_object_types: list[str]


def register_agent_queue(
    *, identity: AgentIdentity, user: User, password: str, object_types: list[str] | None
) -> tuple[QueueRegistration, bool]:
    """The identity's event queue `consumer_<uuid>` in the virtual host of the user who registers it,
    read by a RabbitMQ user of its own whose password is `password` (the caller's API token, which the
    agent presents to the broker). Idempotent: again, it refreshes the password and repairs the broker's
    side. `object_types` None keeps the types asked before; [] asks for every type. True if new."""
    _require(user, identity.offering)
    if rabbitmq.broker() is None:
        raise InvalidInput(["Event queues are not enabled on this server (EFP_RABBITMQ_URL); agents poll."])
    if object_types is not None and (bad := sorted(set(object_types) - set(agent_messages.OBJECT_TYPES))):
        raise InvalidInput({"object_types": [f'"{name}" is not a valid choice.' for name in bad]})
    created = not identity.rmq_username
    username = identity.rmq_username or uuid.uuid4().hex
    vhost = identity.rmq_vhost or user.uuid.hex
    wanted = sorted(set(object_types)) if object_types is not None else list(identity.object_types)
    try:
        rabbitmq.provision_queue(vhost=vhost, username=username, password=password, queue=identity.queue_name)
    except rabbitmq.BrokerError as error:
        raise InvalidInput([f"Failed to provision the event queue: {error}"]) from error
    with transaction.atomic():
        AgentIdentity.objects.filter(pk=identity.pk).update(
            rmq_username=username, rmq_vhost=vhost, object_types=wanted, modified=timezone.now()
        )
    identity.refresh_from_db()
    registration = QueueRegistration(
        rmq_username=username,
        queue_name=identity.queue_name,
        vhost=vhost,
        observable_object_types=wanted or list(agent_messages.OBJECT_TYPES),
    )
    return registration, created


@transaction.atomic
def register_agent_service(
    *, identity: AgentIdentity, user: User, name: str, mode: str = ""
) -> tuple[AgentService, bool]:
    """The service named `name` of the identity, created or refreshed and marked Active; True if created."""
    _require(user, identity.offering)
    now = timezone.now()
    service, created = AgentService.objects.get_or_create(
        identity=identity,
        name=name,
        defaults={"mode": mode, "state": AgentService.State.ACTIVE, "created": now, "modified": now},
    )
    if not created:
        AgentService.objects.filter(pk=service.pk).update(
            mode=mode, state=AgentService.State.ACTIVE, modified=now
        )
        service.refresh_from_db()
    return service, created


@transaction.atomic
def register_agent_processor(
    *, service: AgentService, user: User, name: str, backend_type: str, backend_version: str = ""
) -> tuple[AgentProcessor, bool]:
    """The processor named `name` of the service, created or refreshed; `last_run` is now. True if created."""
    _require(user, service.identity.offering)
    now = timezone.now()
    processor, created = AgentProcessor.objects.get_or_create(
        service=service,
        name=name,
        defaults={
            "backend_type": backend_type,
            "backend_version": backend_version,
            "last_run": now,
            "created": now,
            "modified": now,
        },
    )
    if not created:
        AgentProcessor.objects.filter(pk=processor.pk).update(
            backend_type=backend_type, backend_version=backend_version, last_run=now, modified=now
        )
        processor.refresh_from_db()
    return processor, created
