"""Links to a resource's allocation page, on the side of the workspace the page belongs to: the
consumer's pages (rendered by `render_consumer`, which sets `consumer_section`) link to
`/my/resources/<uuid>/`, the provider's to `/provider/resources/<uuid>/`."""

from __future__ import annotations

from typing import Any

from django import template
from django.urls import reverse
from django.utils.html import format_html

register = template.Library()


def _route(context: template.Context) -> str:
    return "web:my-resource" if "consumer_section" in context else "web:resource"


@register.simple_tag(takes_context=True)
def resource_url(context: template.Context, resource: Any) -> str:
    """The allocation page of `resource` on this page's side."""
    return reverse(_route(context), args=[resource.uuid.hex])


@register.simple_tag(takes_context=True)
def resource_link(context: template.Context, resource: Any, text: str = "") -> str:
    """`resource`'s name (or `text`) linked to its allocation page; plain `text` when there is none."""
    if resource is None:
        return format_html("{}", text or "—")
    name = text or resource.name or "(unnamed)"
    return format_html('<a href="{}" class="resource-link">{}</a>', resource_url(context, resource), name)
