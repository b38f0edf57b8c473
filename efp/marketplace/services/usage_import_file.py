"""Reading a usage CSV (issue 16, point 5): the file's shape and each line's own errors.

Columns `resource_uuid,component,month,amount`, optional `username` and `reason`, in any order, named by
a header row. `month` is `YYYY-MM`; `amount` a non-negative decimal (as the usage verbs take it). What a
line means for the database (unknown resource, component, closed month, ...) is `usage_imports`'s part.
"""

from __future__ import annotations

import csv
import datetime
import io
import uuid
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation

from efp.errors import InvalidInput
from efp.marketplace.billing_months import parse_month
from efp.marketplace.services.usage import _amount_errors
from efp.structure.names import NAME_MESSAGE, has_control_characters

REQUIRED = ("resource_uuid", "component", "month", "amount")
OPTIONAL = ("username", "reason")
COLUMNS = REQUIRED + OPTIONAL
FIELD = "file"  # the form and API field the file comes in
MAX_REASON = 1000


@dataclass
class ImportLine:
    """One line of the file as read: its number in the file, its values, and what is wrong with it."""

    line: int
    resource_uuid: str
    component: str
    month: str
    amount: str
    username: str = ""
    reason: str = ""
    errors: list[str] = field(default_factory=list)
    # Parsed values; None when the text is not valid.
    uuid: uuid.UUID | None = None
    period: datetime.date | None = None
    value: Decimal | None = None

    @property
    def key(self) -> tuple[str, str, str, str]:
        """What makes a line a duplicate of another: the record (and user row) it writes."""
        resource = self.uuid.hex if self.uuid else self.resource_uuid
        period = self.period.isoformat() if self.period else self.month
        return (resource, self.component, period, self.username)


def bad_file(message: str) -> InvalidInput:
    return InvalidInput({FIELD: [message]})


def _text(content: bytes) -> str:
    try:
        return content.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        raise bad_file("The file is not a UTF-8 CSV file.") from error


def _header(names: list[str]) -> list[str]:
    header = [name.strip().lower() for name in names]
    unknown = [name for name in header if name and name not in COLUMNS]  # unnamed columns are ignored
    if unknown:
        raise bad_file(f"Unknown column(s): {', '.join(unknown)}. The columns are: {', '.join(COLUMNS)}.")
    missing = [name for name in REQUIRED if name not in header]
    if missing:
        raise bad_file(
            f"Missing column(s): {', '.join(missing)}. A header row names at least: {', '.join(REQUIRED)}."
        )
    twice = sorted({name for name in header if name and header.count(name) > 1})
    if twice:
        raise bad_file(f"Column(s) named more than once: {', '.join(twice)}.")
    return header


def _check(line: ImportLine) -> None:
    try:
        line.uuid = uuid.UUID(line.resource_uuid)
    except ValueError:
        line.errors.append(f"resource_uuid: {line.resource_uuid!r} is not a valid UUID.")
    if not line.component:
        line.errors.append("component: This field is required.")
    line.period = parse_month(line.month)
    if line.period is None:
        line.errors.append(f"month: {line.month!r} is not a month as YYYY-MM.")
    try:
        amount = Decimal(line.amount)
    except InvalidOperation:
        amount = None
    problems = _amount_errors(amount) if amount is not None else ["A valid number is required."]
    if problems:
        line.errors.append(f"amount: {line.amount!r}: {' '.join(problems)}")
    elif amount is not None:
        line.value = amount.quantize(Decimal("0.01"))
    if len(line.username) > 100:
        line.errors.append("username: Ensure this field has no more than 100 characters.")
    elif has_control_characters(line.username):
        line.errors.append(f"username: {NAME_MESSAGE}")
    if len(line.reason) > MAX_REASON:
        line.errors.append(f"reason: Ensure this field has no more than {MAX_REASON} characters.")


def parse(content: bytes) -> list[ImportLine]:
    """The file's lines, each checked on its own and against the lines before it (duplicates).

    A file that is not a CSV with a known header and at least one line raises InvalidInput on `file`."""
    text = _text(content)
    if "\x00" in text:
        raise bad_file("The file is not a CSV file.")
    reader = csv.reader(io.StringIO(text, newline=""))
    try:
        first = next(reader, None)
        while first is not None and not any(cell.strip() for cell in first):
            first = next(reader, None)
        if first is None:
            raise bad_file("The file is empty; it needs a header row and at least one line.")
        header = _header(first)
        lines: list[ImportLine] = []
        seen: dict[tuple[str, str, str, str], int] = {}
        for row in reader:
            if not any(cell.strip() for cell in row):
                continue
            number = reader.line_num
            values = dict(zip(header, (cell.strip() for cell in row), strict=False))
            line = ImportLine(
                line=number,
                resource_uuid=values.get("resource_uuid", ""),
                component=values.get("component", ""),
                month=values.get("month", ""),
                amount=values.get("amount", ""),
                username=values.get("username", ""),
                reason=values.get("reason", ""),
            )
            if len(row) != len(header):
                line.errors.append(
                    f"This line has {len(row)} values; the header names {len(header)} columns."
                )
            _check(line)
            if not line.errors:
                first_seen = seen.setdefault(line.key, number)
                if first_seen != number:
                    line.errors.append(f"Duplicate of line {first_seen}.")
            lines.append(line)
    except csv.Error as error:
        raise bad_file(f"The file is not a valid CSV file (line {reader.line_num}: {error}).") from error
    if not lines:
        raise bad_file("The file has a header but no lines.")
    return lines
