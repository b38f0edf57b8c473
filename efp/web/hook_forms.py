"""The web hook form of the provider workspace: it parses; `efp.hooks.services` checks and writes."""

from __future__ import annotations

from django import forms

from efp.events.catalogue import EVENT_TYPES, GROUPS
from efp.hooks.models import WebHook

GROUP_LABELS = {
    "resources": "Orders and resources",
    "users": "Roles and offering users",
    "projects": "Projects",
    "customers": "Organisations",
    "providers": "Offerings and plans",
    "efp": "EFP's own: order moves, resource states, usage reports, hook deactivation and tests",
}


class WebHookForm(forms.Form):
    destination_url = forms.CharField(
        label="Destination URL",
        max_length=2000,
        help_text="Events are posted here (http or https, a public address).",
        widget=forms.URLInput(attrs={"placeholder": "https://example.org/efp-events", "autocomplete": "url"}),
    )
    event_groups = forms.MultipleChoiceField(
        label="Event groups",
        required=False,
        choices=[(name, GROUP_LABELS.get(name, name)) for name in GROUPS],
        widget=forms.CheckboxSelectMultiple,
        help_text="Every event type of a group, including types added later to it.",
    )
    event_types = forms.MultipleChoiceField(
        label="Single event types",
        required=False,
        choices=[(group, [(t.name, t.name) for t in EVENT_TYPES if t.group == group]) for group in GROUPS],
        widget=forms.SelectMultiple(attrs={"size": 8}),
        help_text="In addition to the groups above.",
    )
    content_type = forms.ChoiceField(
        label="Body format",
        choices=[(WebHook.ContentType.JSON, "JSON"), (WebHook.ContentType.FORM, "Form-encoded")],
        initial=WebHook.ContentType.JSON,
        widget=forms.RadioSelect,
    )
