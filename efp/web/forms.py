"""GUI forms. They parse what was typed; the business rules live in the services, whose errors are shown."""

from __future__ import annotations

import datetime
from typing import Any, cast

from django import forms
from django.utils.text import capfirst

from efp.marketplace.billing_months import month_key, parse_month, parse_span
from efp.marketplace.forecasts import FLAG_CHOICES
from efp.marketplace.models import OfferingComponent
from efp.marketplace.state_words import ORDER_STATE_WORDS, RESOURCE_STATE_WORDS
from efp.marketplace.states import OrderState, OrderType, ResourceState


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


class BackendIdForm(forms.Form):
    backend_id = forms.CharField(label="Backend ID", required=False, max_length=255)


class EndDateForm(forms.Form):
    end_date = IsoDateField(
        label="End date",
        required=False,
        widget=IsoDateInput(),
        help_text="Leave empty to remove the end date.",
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


class ApiTokenForm(forms.Form):
    """A new API token: a name, an optional expiry day, optionally limited to one offering (a site agent)."""

    name = forms.CharField(max_length=150, help_text="What uses it, e.g. “laptop” or “site agent”.")
    expires = IsoDateField(
        required=False, label="Expires on", help_text="Optional; empty: it does not expire."
    )
    offering: forms.ModelChoiceField = forms.ModelChoiceField(
        queryset=None,
        required=False,
        label="Limited to offering",
        help_text="Optional: the token may then only read this offering and report its usage.",
    )

    def __init__(self, *args: Any, offerings: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        cast(forms.ModelChoiceField, self.fields["offering"]).queryset = offerings
        if not offerings.exists():
            del self.fields["offering"]
