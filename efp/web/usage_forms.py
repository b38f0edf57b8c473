"""GUI forms of usage: Report usage (with its per-user grid), Correct, the correction policy, Import usage.
They parse what was typed; the rules live in the services (`services/usage.py`, `services/corrections.py`)."""

from __future__ import annotations

import datetime
import re
from collections.abc import Mapping
from decimal import Decimal, InvalidOperation
from typing import Any

from django import forms

from efp.marketplace.billing_months import month_key, parse_month
from efp.marketplace.models import Offering, OfferingComponent
from efp.web.forms import set_choices

OfferingCorrectedBy = Offering.CorrectedBy
USER_ROWS = 3  # empty rows of the per-user grid, at least
MAX_USER_ROWS = 200
USER_FIELD_RE = re.compile(r"^user_.+_(\d+)_(?:name|usage)$")


def user_grid_rows(posted: Mapping[str, Any] | None, most_stored: int) -> int:
    """Rows of the per-user grid: room for every user stored for a month plus one; on submit, as many as
    were sent (the stored users may have changed in between, and no typed row may be dropped)."""
    if posted is not None:
        sent = [int(m.group(1)) for key in posted if (m := USER_FIELD_RE.match(key))]
        return min(max(USER_ROWS, max(sent, default=0) + 1), MAX_USER_ROWS)
    return min(max(USER_ROWS, most_stored + 1), MAX_USER_ROWS)


class UsageImportForm(forms.Form):
    file = forms.FileField(
        label="Usage CSV file",
        help_text="Columns resource_uuid, component, month (YYYY-MM), amount; optional username and reason.",
    )


def parse_amount(raw: str) -> Decimal:
    try:
        value = Decimal(raw.strip().replace(",", "."))
    except InvalidOperation:
        raise forms.ValidationError("Enter a number, for example 12.5.") from None
    if not value.is_finite():
        raise forms.ValidationError("Enter a number, for example 12.5.")
    return value


USERS_CHOICES = [
    ("keep", "Keep the users' rows (the month is flagged: users exceed the total)"),
    ("clear", "Clear the users' rows"),
    ("replace", "Replace the users' rows with those entered above"),
]


class ReportUsageForm(forms.Form):
    """The month, amount and description per usage- or limit-billed component, optional per-user rows;
    a reason and what becomes of the users' rows when the service asks for them."""

    month = forms.ChoiceField(
        label="Month",
        error_messages={
            "required": "Choose the month this usage is for.",
            "invalid_choice": "Choose one of the months in the list; other months cannot be reported here.",
        },
    )
    reason = forms.CharField(
        label="Reason",
        required=False,
        max_length=2000,
        widget=forms.Textarea(attrs={"rows": 2}),
        help_text=(
            "Needed to correct a closed month, and when the users' rows add up to more than the new total;"
            " both sides of the allocation can read it."
        ),
    )
    users = forms.ChoiceField(
        label="The users' rows", required=False, choices=USERS_CHOICES, widget=forms.RadioSelect
    )

    def __init__(
        self,
        *args: Any,
        components: list[OfferingComponent],
        months: list[datetime.date],
        user_rows: int = USER_ROWS,
        refused: Mapping[str, Mapping[str, str]] | None = None,
        **kwargs: Any,
    ) -> None:
        """`refused`: per component type, the months (`YYYY-MM`) it may not be reported for, with why."""
        super().__init__(*args, **kwargs)
        self.components = components
        self.user_rows = user_rows
        self.refused = refused or {}
        set_choices(
            self.fields["month"],
            [
                (month_key(m), m.strftime("%B %Y") + (" (current month)" if i == 0 else ""))
                for i, m in enumerate(months)
            ],
        )
        for c in components:
            unit = f" ({c.measured_unit})" if c.measured_unit else ""
            self.fields[f"amount_{c.type}"] = forms.CharField(
                label=f"{c.name} amount{unit}",
                required=False,
                widget=forms.TextInput(attrs={"inputmode": "decimal", "autocomplete": "off"}),
            )
            self.fields[f"description_{c.type}"] = forms.CharField(
                label=f"{c.name} description", required=False
            )
            for i in range(user_rows):
                self.fields[f"user_{c.type}_{i}_name"] = forms.CharField(
                    label=f"{c.name}: user {i + 1} username", required=False
                )
                self.fields[f"user_{c.type}_{i}_usage"] = forms.CharField(
                    label=f"{c.name}: user {i + 1} amount",
                    required=False,
                    widget=forms.TextInput(attrs={"inputmode": "decimal", "autocomplete": "off"}),
                )
            if self.refusal(c):  # drawn disabled; a value sent anyway is refused by clean()
                for name, field in self.fields.items():
                    if name == f"description_{c.type}" or name.startswith(f"user_{c.type}_"):
                        field.widget.attrs["disabled"] = "disabled"

    def refusal(self, component: OfferingComponent) -> str:
        """Why `component` may not be reported for the chosen month, or ""."""
        return self.refused.get(component.type, {}).get(str(self["month"].value() or ""), "")

    def rows(self) -> list[dict[str, Any]]:
        """Bound fields grouped per component, for the template."""
        return [
            {
                "component": c,
                "refusal": self.refusal(c),
                "amount": self[f"amount_{c.type}"],
                "description": self[f"description_{c.type}"],
                "users": [
                    (self[f"user_{c.type}_{i}_name"], self[f"user_{c.type}_{i}_usage"])
                    for i in range(self.user_rows)
                ],
            }
            for c in self.components
        ]

    def clean(self) -> dict[str, Any]:
        super().clean()
        data = self.cleaned_data
        reported = False
        for c in self.components:
            raw = (data.get(f"amount_{c.type}") or "").strip()
            refusal = self.refusal(c)
            if raw and refusal:
                self.add_error(f"amount_{c.type}", refusal)
            elif raw:
                reported = True
                try:
                    data[f"amount_{c.type}"] = parse_amount(raw)
                except forms.ValidationError as error:
                    self.add_error(f"amount_{c.type}", error)
            else:
                data[f"amount_{c.type}"] = None
            users = []
            for i in range(self.user_rows):
                name = (data.get(f"user_{c.type}_{i}_name") or "").strip()
                raw_usage = (data.get(f"user_{c.type}_{i}_usage") or "").strip()
                if not name and not raw_usage:
                    continue
                if not name:
                    self.add_error(f"user_{c.type}_{i}_name", "Enter the username this amount belongs to.")
                    continue
                if not raw_usage:
                    self.add_error(f"user_{c.type}_{i}_usage", "Enter an amount for this user.")
                    continue
                try:
                    users.append((i, name, parse_amount(raw_usage)))
                except forms.ValidationError as error:
                    self.add_error(f"user_{c.type}_{i}_usage", error)
            if users and not raw:
                self.add_error(f"amount_{c.type}", "Enter the total as well when you give per-user amounts.")
            data[f"users_{c.type}"] = users
        if not reported and not self.errors:
            raise forms.ValidationError("Enter an amount for at least one component.")
        return data

    def month_value(self) -> datetime.date:
        month = parse_month(self.cleaned_data["month"])
        assert month is not None
        return month


class CorrectUsageForm(forms.Form):
    """A month's total, corrected with a reason (services/corrections.py has the rule)."""

    component = forms.ChoiceField(label="Component")
    month = forms.ChoiceField(label="Month")
    amount = forms.CharField(
        label="Corrected total",
        widget=forms.TextInput(attrs={"inputmode": "decimal", "autocomplete": "off"}),
        error_messages={"required": "Enter the corrected total, for example 12.5."},
    )
    reason = forms.CharField(
        label="Reason (both sides of the allocation can read it)",
        max_length=2000,
        widget=forms.Textarea(attrs={"rows": 3}),
        error_messages={"required": "Give a reason: the consumer sees it with the correction."},
    )

    def __init__(
        self, *args: Any, components: list[OfferingComponent], months: list[datetime.date], **kwargs: Any
    ) -> None:
        super().__init__(*args, **kwargs)
        self.components = {c.type: c for c in components}
        set_choices(self.fields["component"], [(c.type, c.name) for c in components])
        set_choices(self.fields["month"], [(month_key(m), m.strftime("%B %Y")) for m in months])

    def clean_amount(self) -> Decimal:
        return parse_amount(self.cleaned_data["amount"])

    def month_value(self) -> datetime.date:
        month = parse_month(self.cleaned_data["month"])
        assert month is not None
        return month


class CorrectionPolicyForm(forms.Form):
    """Who may correct closed months of an offering's usage, and how far back."""

    usage_corrected_by = forms.ChoiceField(
        label="Closed months may be corrected by", choices=OfferingCorrectedBy.choices
    )
    usage_correction_months = forms.IntegerField(
        label="Months back",
        min_value=0,
        help_text="How many closed months back they may correct (staff may always correct any month).",
    )
