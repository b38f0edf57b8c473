"""GUI forms. They parse what was typed; the business rules live in the services, whose errors are shown."""

from __future__ import annotations

import datetime
import re
from collections.abc import Mapping
from decimal import Decimal, InvalidOperation
from typing import Any, cast

from django import forms
from django.utils.text import capfirst

from efp.marketplace.billing_months import month_key, parse_month, parse_span
from efp.marketplace.forecasts import FLAG_CHOICES
from efp.marketplace.models import Offering, OfferingComponent
from efp.marketplace.state_words import ORDER_STATE_WORDS, RESOURCE_STATE_WORDS
from efp.marketplace.states import OrderState, OrderType, ResourceState

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


def set_choices(field: forms.Field, choices: list[tuple[str, str]]) -> None:
    cast(forms.ChoiceField, field).choices = choices


class IsoDateInput(forms.DateInput):
    """A date typed as YYYY-MM-DD. Not `<input type=date>`: Chromium shows that in the browser's locale
    (mm/dd/yyyy), while every page shows ISO dates."""

    def __init__(self) -> None:
        super().__init__(
            format="%Y-%m-%d",
            attrs={
                "placeholder": "YYYY-MM-DD",
                "pattern": r"\d{4}-\d{2}-\d{2}",
                "autocomplete": "off",
                "size": 10,
            },
        )


class IsoDateField(forms.DateField):
    """A date as YYYY-MM-DD only (parsed on the server; the pattern only helps the browser)."""

    input_formats = ["%Y-%m-%d"]
    default_error_messages = {"invalid": "Enter a date as YYYY-MM-DD, for example 2026-12-31."}

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("widget", IsoDateInput())
        super().__init__(**kwargs)


class MonthField(forms.CharField):
    widget = forms.TextInput(attrs={"type": "month", "placeholder": "YYYY-MM"})

    def to_python(self, value: Any) -> datetime.date | None:  # type: ignore[override]
        value = super().to_python(value)
        if not value:
            return None
        month = parse_month(value)
        if month is None:
            raise forms.ValidationError("Enter a month as YYYY-MM.")
        return month


class ListFilterForm(forms.Form):
    """Filters both lists share; the offering and organisation choices are what the user may see."""

    def __init__(
        self,
        *args: Any,
        offerings: list[tuple[str, str]],
        organisations: list[tuple[str, str]],
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, **kwargs)
        set_choices(self.fields["offering"], [("", "Any offering"), *offerings])
        set_choices(self.fields["organisation"], [("", "Any organisation"), *organisations])


class MonthSpanForm(forms.Form):
    """`from` and `to` as YYYY-MM; the range rule (defaults, order, at most 36 months) is
    `billing_months.parse_span`, as in the API. `cleaned_data["months"]`: the months, oldest first."""

    def __init__(self, data: Any = None, *, choices: dict[str, list[tuple[str, str]]], **kwargs: Any) -> None:
        if data is not None:  # show the months in force, defaults included
            months, _ = parse_span(data.get("from"), data.get("to"))
            data = data.copy()
            if months:
                data.setdefault("from", month_key(months[0]))
                data.setdefault("to", month_key(months[-1]))
        super().__init__(data, **kwargs)
        month = forms.TextInput(attrs={"type": "month", "placeholder": "YYYY-MM"})
        self.fields["from"] = forms.CharField(label="From month", required=False, widget=month)
        self.fields["to"] = forms.CharField(label="To month", required=False, widget=month)
        for name, options in choices.items():
            set_choices(self.fields[name], [("", f"Any {str(self.fields[name].label).lower()}"), *options])

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        months, errors = parse_span(data.get("from"), data.get("to"))
        for name, messages in errors.items():
            self.add_error(name, messages)
        data["months"] = months
        return data


class CoverageFilterForm(MonthSpanForm):
    offering = forms.ChoiceField(label="Offering", required=False)
    only_missing = forms.BooleanField(label="Only resources with a missing month", required=False)


class UsageReportForm(MonthSpanForm):
    offering = forms.ChoiceField(label="Offering", required=False)
    organisation = forms.ChoiceField(label="Organisation", required=False)


class ResourceFilterForm(ListFilterForm):
    q = forms.CharField(label="Search name or backend ID", required=False)
    offering = forms.ChoiceField(label="Offering", required=False)
    organisation = forms.ChoiceField(label="Organisation", required=False)
    project = forms.CharField(label="Project name contains", required=False)
    state = forms.MultipleChoiceField(
        label="State",
        required=False,
        choices=[(s.value, capfirst(RESOURCE_STATE_WORDS[s])) for s in ResourceState],  # as the table says it
        widget=forms.CheckboxSelectMultiple,
    )
    min_percent = forms.IntegerField(
        label="At least this % of a limit used", required=False, min_value=0, max_value=10000
    )
    ending_within = forms.IntegerField(
        label="Ending within (days)", required=False, min_value=0, max_value=3650
    )
    no_report = MonthField(label="No usage reported for month", required=False)
    usage_flag = forms.ChoiceField(label="Usage flag", required=False, choices=[("", "Any"), *FLAG_CHOICES])
    include_terminated = forms.BooleanField(label="Include terminated resources", required=False)


class OrderFilterForm(ListFilterForm):
    DEFAULT_STATES = (OrderState.PENDING_PROVIDER.value,)

    q = forms.CharField(label="Search resource name or order ID", required=False)
    state = forms.MultipleChoiceField(
        label="State",
        required=False,
        choices=[(s.value, capfirst(ORDER_STATE_WORDS[s])) for s in OrderState],
        widget=forms.CheckboxSelectMultiple,
    )
    type = forms.MultipleChoiceField(
        label="Type", required=False, choices=OrderType.choices, widget=forms.CheckboxSelectMultiple
    )
    offering = forms.ChoiceField(label="Offering", required=False)
    organisation = forms.ChoiceField(label="Client organisation", required=False)
    project = forms.CharField(label="Project name contains", required=False)
    created_after = IsoDateField(label="Created on or after", required=False, widget=IsoDateInput())
    created_before = IsoDateField(label="Created on or before", required=False, widget=IsoDateInput())


class RejectForm(forms.Form):
    comment = forms.CharField(
        label="Reason for rejecting (shown to the consumer)",
        widget=forms.Textarea(attrs={"rows": 3}),
        error_messages={"required": "Give a reason: the consumer sees it."},
    )

    def clean_comment(self) -> str:
        comment = self.cleaned_data["comment"].strip()
        if not comment:
            raise forms.ValidationError("Give a reason: the consumer sees it.")
        return comment


class UsageImportForm(forms.Form):
    file = forms.FileField(
        label="Usage CSV file",
        help_text="Columns resource_uuid, component, month (YYYY-MM), amount; optional username and reason.",
    )


class BackendIdForm(forms.Form):
    backend_id = forms.CharField(label="Backend ID", required=False, max_length=255)


class EndDateForm(forms.Form):
    end_date = IsoDateField(
        label="End date",
        required=False,
        widget=IsoDateInput(),
        help_text="Leave empty to remove the end date.",
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


class ConsumerRejectForm(RejectForm):
    comment = forms.CharField(
        label="Reason for rejecting (shown to whoever asked)",
        widget=forms.Textarea(attrs={"rows": 3}),
        error_messages={"required": "Give a reason: whoever asked sees it."},
    )


def _limit_field(component: OfferingComponent, *, required: bool = False) -> forms.IntegerField:
    bounds = []
    if component.min_value is not None:
        bounds.append(f"at least {component.min_value}")
    top = [
        v
        for v in (component.max_value, component.max_available_limit, component.limit_amount)
        if v is not None
    ]
    if top:
        bounds.append(f"at most {min(top)}")
    unit = f" ({component.measured_unit})" if component.measured_unit else ""
    attrs: dict[str, Any] = {"inputmode": "numeric"}
    if component.min_value is not None:
        attrs["min"] = component.min_value
    if top:
        attrs["max"] = min(top)
    return forms.IntegerField(
        label=f"{component.name} limit{unit}",
        required=required,
        help_text=("A whole number, " + " and ".join(bounds) + ".") if bounds else "A whole number.",
        widget=forms.NumberInput(attrs=attrs),
        error_messages={"invalid": "Enter a whole number."},
    )


class OrderForm(forms.Form):
    """What the order form asks; the order service checks the rules (bounds, plan, project, organisation)."""

    project = forms.ChoiceField(label="Project")
    plan = forms.CharField(label="Plan", error_messages={"required": "Choose a plan."})
    name = forms.CharField(
        label="Resource name",
        max_length=150,
        help_text="How you and the provider will recognise the resource.",
        error_messages={"required": "Give the resource a name."},
    )

    def __init__(
        self,
        *args: Any,
        projects: list[tuple[str, str]],
        plans: list[tuple[str, str]],
        known_plans: dict[str, Any],
        components: list[OfferingComponent],
        end_date: str,
        terms_of_service: str,
        **kwargs: Any,
    ) -> None:
        """`end_date` is "required", "optional" or "" (not asked)."""
        super().__init__(*args, **kwargs)
        set_choices(self.fields["project"], [("", "Choose a project"), *projects])
        # The select shows the plans on offer; any plan of the offering is accepted, so that the order
        # service says why one cannot be ordered (e.g. archived while the form was open).
        self.known_plans = known_plans
        self.fields["plan"].widget = forms.Select(
            choices=plans if len(plans) == 1 else [("", "Choose a plan"), *plans]
        )
        self.limit_types = [c.type for c in components]
        for c in components:
            self.fields[f"limit_{c.type}"] = _limit_field(c)
            if c.default_limit is not None:
                self.fields[f"limit_{c.type}"].initial = c.default_limit
        if end_date:
            self.fields["end_date"] = IsoDateField(
                label="End date of the resource",
                required=end_date == "required",
                widget=IsoDateInput(),
                help_text="The provider ends the resource on this day."
                if end_date == "required"
                else "Optional: when the resource should end.",
            )
        if terms_of_service:
            self.fields["accept_terms"] = forms.BooleanField(
                label="I accept the terms of service of this offering",
                required=True,
                error_messages={"required": "Accept the terms of service to order."},
            )
        self.fields["comment"] = forms.CharField(
            label="Comment for the approvers (optional)",
            required=False,
            max_length=255,
            widget=forms.Textarea(attrs={"rows": 2}),
        )

    def clean_plan(self) -> Any:
        plan = self.known_plans.get(self.cleaned_data["plan"])
        if plan is None:
            raise forms.ValidationError("Choose a plan of this offering.")
        return plan

    def limit_fields(self) -> list[forms.BoundField]:
        return [self[f"limit_{t}"] for t in self.limit_types]

    def limits(self) -> dict[str, int]:
        return {
            t: self.cleaned_data[f"limit_{t}"]
            for t in self.limit_types
            if self.cleaned_data.get(f"limit_{t}") is not None
        }


class ChangeLimitsForm(forms.Form):
    """New limits of a resource; every limit-billed component, prefilled with the current limit."""

    def __init__(self, *args: Any, components: list[OfferingComponent], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.limit_types = [c.type for c in components]
        for c in components:
            self.fields[f"limit_{c.type}"] = _limit_field(c, required=True)

    def limits(self) -> dict[str, int]:
        return {t: self.cleaned_data[f"limit_{t}"] for t in self.limit_types}


class ExtensionRequestForm(forms.Form):
    """More months, larger limits or both, with a justification (`services/renewals.py` judges them)."""

    extension_months = forms.IntegerField(
        label="More months",
        min_value=0,
        initial=6,
        help_text="How many months to add to the end date; 0 to ask for larger limits only.",
    )
    justification = forms.CharField(
        label="Justification",
        widget=forms.Textarea(attrs={"rows": 4}),
        help_text="Why the allocation needs more: the provider reads it when deciding.",
    )

    def __init__(self, *args: Any, components: list[OfferingComponent], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.limit_types = [c.type for c in components]
        for c in components:
            self.fields[f"limit_{c.type}"] = _limit_field(c, required=True)

    def limits(self) -> dict[str, int]:
        return {t: self.cleaned_data[f"limit_{t}"] for t in self.limit_types}


class ProjectForm(forms.Form):
    name = forms.CharField(label="Name", max_length=500)
    description = forms.CharField(
        label="Description", required=False, widget=forms.Textarea(attrs={"rows": 3})
    )
    start_date = IsoDateField(
        label="Start date",
        required=False,
        widget=IsoDateInput(),
        help_text="Orders wait until this day (optional).",
    )
    end_date = IsoDateField(
        label="End date",
        required=False,
        widget=IsoDateInput(),
        help_text="From this day on the project takes no new orders (optional).",
    )


def role_end_field() -> forms.DateTimeField:
    return forms.DateTimeField(
        label="Role ends (optional)",
        required=False,
        widget=forms.DateTimeInput(
            format="%Y-%m-%d %H:%M",
            attrs={
                "placeholder": "YYYY-MM-DD HH:MM",
                "pattern": r"\d{4}-\d{2}-\d{2}([ T]\d{2}:\d{2})?",
                "autocomplete": "off",
            },
        ),
        input_formats=["%Y-%m-%d %H:%M", "%Y-%m-%dT%H:%M", "%Y-%m-%d"],
        error_messages={"invalid": "Enter a date and time as YYYY-MM-DD HH:MM, or a date as YYYY-MM-DD."},
        help_text="YYYY-MM-DD HH:MM, or a date. Leave empty for no end.",
    )


class RoleEndForm(forms.Form):
    expiration_time = role_end_field()


class TeamMemberForm(forms.Form):
    username = forms.CharField(label="Username", max_length=150)
    role = forms.ChoiceField(label="Role")
    expiration_time = role_end_field()

    def __init__(
        self, *args: Any, roles: list[tuple[str, str]], initial_role: str = "", **kwargs: Any
    ) -> None:
        super().__init__(*args, **kwargs)
        set_choices(self.fields["role"], roles)
        self.fields["role"].initial = initial_role


class NotificationPreferencesForm(forms.Form):
    """How each group of notifications reaches the person by e-mail (the bell shows them all)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        from efp.notifications.models import Delivery, Group

        super().__init__(*args, **kwargs)
        for group in Group:
            self.fields[group.value] = forms.ChoiceField(
                label=str(group.label), choices=Delivery.choices, widget=forms.RadioSelect
            )
