"""Server-rendered SVG charts. Readable without colour: the limit is a labelled dashed line, months with no
report are marked "no report" instead of drawn as zero, bars over the limit are hatched and labelled.

Every month is a focusable column (Tab, then the arrow keys; a tap on a phone) named by its value, which
app.js also writes under the chart; the narrow variant is drawn at about the size a 375 px phone shows it,
so that its 12 px ticks stay at least 11 px on screen. The current (last) month is always labelled."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django.utils.html import format_html
from django.utils.safestring import SafeString, mark_safe

from efp.marketplace.usage_history import MonthPoint


def number(value: Decimal | float | int | None) -> str:
    """Limits and axis ticks: 12345.5 → "12,345.5"; whole numbers without decimals."""
    if value is None:
        return "\u2013"  # en dash
    value = Decimal(value)
    if value == value.to_integral_value():
        return f"{value:,.0f}"
    return f"{value.normalize():,f}".rstrip("0").rstrip(".")


def amount(value: Decimal | float | int | None) -> str:
    """Usage amounts, always with the two decimals they are stored with: 1126.3 → "1,126.30"."""
    if value is None:
        return "\u2013"  # en dash
    return f"{Decimal(value):,.2f}"


def short_number(value: Decimal) -> str:
    """Bar labels: whole numbers from 100, "123k" from 100,000, so that labels do not collide."""
    if value >= 100_000:
        return f"{value / 1000:,.0f}k"
    if value >= 100:
        return f"{value:,.0f}"
    return number(value)


def svg(template: str, *args: object) -> SafeString:
    """format_html with floats rounded to one decimal (it escapes its arguments, so no format specs)."""
    return format_html(template, *[f"{a:.1f}" if isinstance(a, float) else a for a in args])


def _nice_max(value: Decimal) -> Decimal:
    if value <= 0:
        return Decimal(1)
    magnitude = Decimal(10) ** (len(str(int(value))) - 1)
    for step in (1, 2, 2.5, 5, 10):
        candidate = Decimal(str(step)) * magnitude
        if candidate >= value:
            return candidate
    return value


# A 375 px phone shows the chart 354 px wide (the page's padding aside): drawn narrower, it is scaled up.
NARROW_WIDTH = 340


def bar_charts(points: list[MonthPoint], *, chart_id: str, **kwargs: Any) -> list[SafeString]:
    """The wide and the narrow variant of one chart; CSS shows the narrow one on a phone."""
    return [
        bar_chart(points, chart_id=f"{chart_id}{suffix}", narrow=narrow, **kwargs)
        for suffix, narrow in (("", False), ("-narrow", True))
    ]


def bar_chart(
    points: list[MonthPoint],
    *,
    limit: Decimal | None,
    unit: str,
    title: str,
    chart_id: str,
    narrow: bool = False,
) -> SafeString:
    """`narrow`: a phone-sized variant (fewer labels on a canvas no wider than a phone shows it, so the
    text is not scaled down)."""
    width, height = (NARROW_WIDTH, 250) if narrow else (720, 280)
    left, right, top, bottom = (46, 6, 20, 44) if narrow else (64, 16, 20, 44)
    labelled = 6 if narrow else 12  # up to this many bars carry their value
    plot_w, plot_h = width - left - right, height - top - bottom
    values = [p.value for p in points if p.value is not None]
    peak = max([*values, limit or Decimal(0), Decimal(0)])
    y_max = _nice_max(peak * Decimal("1.05") if peak else Decimal(1))

    def y(value: Decimal) -> float:
        return top + plot_h - float(value / y_max) * plot_h

    parts: list[str] = []
    parts.append(
        svg(
            # A group, not an image: its months are focusable, and an image's children are presentational.
            '<svg class="chart {}" viewBox="0 0 {} {}" role="group" aria-labelledby="{}-title {}-desc" '
            'preserveAspectRatio="xMidYMid meet">',
            "chart-narrow" if narrow else "chart-wide",
            width,
            height,
            chart_id,
            chart_id,
        )
    )
    reported = len(values)
    summary = f"{reported} of {len(points)} months reported"
    if limit is not None:
        summary += f"; limit {number(limit)} {unit}"
    parts.append(
        svg(
            '<title id="{}-title">{}</title><desc id="{}-desc">{}. The table below lists '
            "the same values.</desc>",
            chart_id,
            title,
            chart_id,
            summary,
        )
    )
    parts.append(
        svg(
            '<defs><pattern id="{}-hatch" width="6" height="6" patternUnits="userSpaceOnUse" '
            'patternTransform="rotate(45)"><rect width="6" height="6" class="bar-over-bg"/>'
            '<line x1="0" y1="0" x2="0" y2="6" class="hatch"/></pattern></defs>',
            chart_id,
        )
    )
    # Axis and grid.
    for i in range(5):
        value = y_max * i / 4
        ypos = y(value)
        parts.append(
            svg(
                '<line class="grid" x1="{}" x2="{}" y1="{}" y2="{}"/>',
                left,
                width - right,
                ypos,
                ypos,
            )
        )
        parts.append(
            svg(
                '<text class="tick" x="{}" y="{}" text-anchor="end">{}</text>',
                left - 6,
                ypos + 4,
                number(value),
            )
        )
    parts.append(svg('<text class="tick" x="{}" y="{}" text-anchor="start">{}</text>', 4, 12, unit))
    n = max(len(points), 1)
    slot = plot_w / n
    bar_w = max(2.0, slot * 0.7)
    label_every = 1 if n <= labelled else max(1, -(-n // labelled))
    last_year: int | None = None
    for i, point in enumerate(points):
        x = left + i * slot + (slot - bar_w) / 2
        cx = left + i * slot + slot / 2
        month_text = point.month.strftime("%b %Y")
        over = point.value is not None and limit is not None and point.value > limit
        if point.value is None:
            name = f"{month_text}: no report"
            # A dashed empty box, not a filled stub: told apart from a zero without colour.
            mark = svg(
                '<rect x="{}" y="{}" width="{}" height="{}" class="gap-mark"/>',
                x + 1,
                top + plot_h - 10,
                max(bar_w - 2, 1.0),
                10,
            )
        else:
            name = f"{month_text}: {amount(point.value)} {unit}"
            if over:
                name += " (over the limit)"
            if point.description:
                name += f" — {point.description}"
            if point.users_exceed:
                name += f" — users {amount(point.users_total)}, more than the total"
            if point.top_users:
                name += " — top users: " + ", ".join(f"{u} {amount(v)}" for u, v in point.top_users)
            bar_y = y(point.value)
            mark = svg(
                '<rect class="bar{}" x="{}" y="{}" width="{}" height="{}" {}/>',
                " over" if over else "",
                x,
                bar_y,
                bar_w,
                max(top + plot_h - bar_y, 0.5),
                svg('fill="url(#{}-hatch)"', chart_id) if over else "",
            )
        # The whole column is the target of a tap, so that a small bar is as easy to hit as a tall one.
        parts.append(
            svg(
                # One tab stop per chart, on the current month; app.js moves along with the arrow keys.
                '<g class="month" tabindex="{}" role="img" aria-label="{}"><title>{}</title>'
                '<rect class="hit" x="{}" y="{}" width="{}" height="{}"/>{}</g>',
                "0" if i == n - 1 else "-1",
                name,
                name,
                left + i * slot,
                top,
                slot,
                plot_h,
                mark,
            )
        )
        if n <= labelled:
            if point.value is None:
                parts.append(
                    svg(
                        '<text class="gap-label" x="{}" y="{}" text-anchor="middle">no report</text>',
                        cx,
                        top + plot_h - 14,
                    )
                )
            else:
                parts.append(
                    svg(
                        '<text class="value" x="{}" y="{}" text-anchor="middle">{}{}</text>',
                        cx,
                        y(point.value) - 4,
                        short_number(point.value),
                        " ▲" if over else "",
                    )
                )
        # Labels are counted from the last month, so the current month always has one.
        if (n - 1 - i) % label_every == 0:
            parts.append(
                svg(
                    '<text class="tick" x="{}" y="{}" text-anchor="middle">{}</text>',
                    cx,
                    height - bottom + 16,
                    point.month.strftime("%b"),
                )
            )
            if point.month.year != last_year or (n <= labelled and i == n - 1):
                parts.append(
                    svg(
                        '<text class="tick" x="{}" y="{}" text-anchor="middle">{}</text>',
                        cx,
                        height - bottom + 30,
                        point.month.year,
                    )
                )
            last_year = point.month.year
    parts.append(
        svg(
            '<line class="axis" x1="{}" x2="{}" y1="{}" y2="{}"/>',
            left,
            width - right,
            top + plot_h,
            top + plot_h,
        )
    )
    if limit is not None:
        ly = y(limit)
        parts.append(
            svg('<line class="limit" x1="{}" x2="{}" y1="{}" y2="{}"/>', left, width - right, ly, ly)
        )
        parts.append(
            svg(
                '<text class="limit-label" x="{}" y="{}" text-anchor="end">limit {} {}</text>',
                width - right - 2,
                ly - 5,
                number(limit),
                unit,
            )
        )
    parts.append("</svg>")
    return mark_safe("".join(parts))  # noqa: S308 (every piece above went through format_html)


def sparkline(values: list[Decimal | None], *, label: str) -> SafeString:
    width, height = 120, 28
    present = [v for v in values if v is not None]
    peak = max(present) if present else Decimal(1)
    peak = peak or Decimal(1)
    n = max(len(values), 1)
    slot = width / n
    bars = []
    for i, value in enumerate(values):
        if value is None:
            bars.append(
                svg(
                    '<rect class="gap-mark" x="{}" y="{}" width="{}" height="1"/>',
                    i * slot + 1,
                    height - 1,
                    slot - 2,
                )
            )
            continue
        h = max(1.0, float(value / peak) * (height - 2))
        bars.append(
            svg(
                '<rect class="bar" x="{}" y="{}" width="{}" height="{}"/>',
                i * slot + 1,
                height - h,
                slot - 2,
                h,
            )
        )
    return svg(
        '<svg class="sparkline" viewBox="0 0 {} {}" role="img" aria-label="{}">{}</svg>',
        width,
        height,
        label,
        mark_safe("".join(bars)),  # noqa: S308 (each bar went through format_html)
    )
