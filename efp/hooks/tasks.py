"""Tasks of the hooks app: one attempt of a web hook delivery, one e-mail of an e-mail hook."""

from __future__ import annotations

from django_tasks import task


@task()
def deliver(delivery_id: int) -> str:
    """Claims the delivery if it is due and nobody holds it, sends one attempt, records it."""
    from efp.hooks.services import attempt_delivery  # services enqueue this task

    return attempt_delivery(delivery_id=delivery_id)


@task()
def send_email(email_delivery_id: int) -> str:
    from efp.hooks.services import send_email_delivery

    return send_email_delivery(email_delivery_id=email_delivery_id)
