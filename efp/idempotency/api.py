"""`@idempotent`: a write sent with an `Idempotency-Key` header is done once (docs/compatibility.md).

The first request with a key inserts the key's row, runs the view and stores its answer (status, body,
content type) in the same transaction as the view's write: a crash leaves both or neither. A retry with the
same key, method, path and body gets the stored answer again (with `Idempotent-Replayed: true`) and writes
nothing; the same key with another body or path is refused with 422. The unique (user, key) constraint
orders two requests with one key that arrive together: the second one's insert waits for the first
transaction and then reads its answer. Errors are not stored: a refused or failed request rolls its key
back with everything else, so the client may retry it. Keys are kept `KEPT` (the job in `jobs.py`).

Without the header a view runs as before."""

from __future__ import annotations

import datetime
import functools
import hashlib
import json
from collections.abc import Callable
from typing import Any

from django.core.files.uploadedfile import UploadedFile
from django.db import IntegrityError, transaction
from django.http import HttpResponse, QueryDict
from django.utils import timezone
from rest_framework import status
from rest_framework.exceptions import APIException, ValidationError
from rest_framework.renderers import JSONRenderer
from rest_framework.request import Request
from rest_framework.response import Response

from efp.idempotency.models import IdempotencyKey

HEADER = "Idempotency-Key"
REPLAYED = "Idempotent-Replayed"
KEPT = datetime.timedelta(hours=24)
MAX_KEY_LENGTH = 255

View = Callable[..., Any]


class KeyReused(APIException):
    status_code = status.HTTP_422_UNPROCESSABLE_ENTITY
    default_code = "idempotency_key_reused"


def idempotent(view: View) -> View:
    """For a DRF view method or action: with an `Idempotency-Key` header, done once per user and key."""

    @functools.wraps(view)
    def wrapper(self: Any, request: Request, *args: Any, **kwargs: Any) -> Any:
        key = request.headers.get(HEADER)
        if key is None:
            return view(self, request, *args, **kwargs)
        if not key.strip() or len(key) > MAX_KEY_LENGTH or not key.isprintable():
            raise ValidationError({HEADER: [f"Send 1 to {MAX_KEY_LENGTH} printable characters."]})
        sent = _Sent(request, key)
        with transaction.atomic():
            stored = _claim(sent)
            if stored is None:
                response = view(self, request, *args, **kwargs)
                if response.status_code >= 400:  # an error answered without raising: keep nothing
                    transaction.set_rollback(True)
                else:
                    _store(sent, response)
                return response
        return _replay(sent, stored)

    return wrapper


class _Sent:
    """What a request with a key was sent with."""

    def __init__(self, request: Request, key: str) -> None:
        self.user: Any = request.user  # authenticated: the view's permissions ran before it
        self.key = key
        self.method = request.method or ""
        self.path = request.path
        self.body_hash = body_hash(request.data)


def body_hash(data: Any) -> str:
    """A hash of the parsed body, so key order and whitespace of a JSON body do not matter."""
    if isinstance(data, QueryDict):
        data = {name: data.getlist(name) for name in data}
    text = json.dumps(data, sort_keys=True, separators=(",", ":"), default=_file_text)
    return hashlib.sha256(text.encode()).hexdigest()


def _file_text(value: Any) -> str:
    if isinstance(value, UploadedFile):
        digest = hashlib.sha256()
        for chunk in value.chunks():
            digest.update(chunk)
        value.seek(0)
        return f"file:{value.name}:{digest.hexdigest()}"
    return str(value)


def _claim(sent: _Sent) -> IdempotencyKey | None:
    """Inserts the key's row and answers None (this request does the write), or the row stored before."""
    mine = IdempotencyKey.objects.filter(user=sent.user, key=sent.key)
    mine.filter(created__lt=timezone.now() - KEPT).delete()  # expired, the job has not run yet
    try:
        with transaction.atomic():
            IdempotencyKey.objects.create(
                user=sent.user, key=sent.key, method=sent.method, path=sent.path, body_hash=sent.body_hash
            )
    except IntegrityError:
        # Another request with this key committed first (its insert held ours until then): read its answer.
        return mine.get()
    return None


def _store(sent: _Sent, response: Any) -> None:
    if isinstance(response, Response):
        body = JSONRenderer().render(response.data).decode() if response.data is not None else ""
        content_type = "application/json"
    else:
        body = response.content.decode()
        content_type = response.get("Content-Type", "")
    IdempotencyKey.objects.filter(user=sent.user, key=sent.key).update(
        status=response.status_code, body=body, content_type=content_type
    )


def _replay(sent: _Sent, stored: IdempotencyKey) -> HttpResponse:
    if (stored.method, stored.path, stored.body_hash) != (sent.method, sent.path, sent.body_hash):
        raise KeyReused(
            f"This {HEADER} was used for another request (another body, method or path) in the last 24 hours."
        )
    response = HttpResponse(stored.body, status=stored.status, content_type=stored.content_type or None)
    response[REPLAYED] = "true"
    return response


def expire_keys(*, now: datetime.datetime | None = None) -> int:
    """Deletes the keys older than `KEPT`; answers how many."""
    cutoff = (now or timezone.now()) - KEPT
    deleted, _ = IdempotencyKey.objects.filter(created__lt=cutoff).delete()
    return deleted
