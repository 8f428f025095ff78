"""Inline SVG charts as small pure functions: data in, markup out (HTML report, dashboard).

The markup is meant to sit inside an HTML page: no XML prolog, no `xmlns` (HTML parsers put
`<svg>` in the SVG namespace themselves), no scripts, no `style=` attributes (so a strict
Content-Security-Policy without 'unsafe-inline' styles still renders it), and every piece of
text escaped. Colours are presentation attributes; a page may restyle them through the
`cw-` classes.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from html import escape

from analytics.render.table import clip
from analytics.render.terminal import safe_text

# A legend entry at font-size 11 gets at most this many pixels per character (wide
# characters count twice), so that it stays in its half of the legend row.
LEGEND_CHAR_PX = 7

# Colour-blind-safe palette (Okabe–Ito), in the order lines are assigned. Its orange, sky blue
# and yellow darkened (same hues) to 3:1 or more on white, as a line one must see to read the
# chart needs (WCAG 1.4.11): #e69f00 was 2.25:1, #56b4e9 2.31:1, #f0e442 1.32:1.
PALETTE = ("#0072b2", "#b86e00", "#009e73", "#d55e00", "#cc79a7", "#2f8fc8", "#9a8a00", "#000")
# The stroke of a `dashed` series (line_chart) and of its legend swatch.
DASH = "6 4"


def _num(value: float) -> str:
    return f"{value:.1f}".rstrip("0").rstrip(".")


def _points(
    values: Sequence[float], width: float, height: float, top: float
) -> list[tuple[float, float]]:
    """Map values onto a box: x spread evenly, y scaled to `top` (0 at the bottom)."""
    if len(values) == 1:
        return [(width / 2, height - values[0] * (height / top if top > 0 else 0.0))]
    step = width / (len(values) - 1) if values else 0.0
    scale = height / top if top > 0 else 0.0
    return [(i * step, height - v * scale) for i, v in enumerate(values)]


def _runs(
    values: Sequence[float | None], width: float, height: float, top: float
) -> list[list[tuple[float, float]]]:
    """`_points` for a series with gaps: the points of each unbroken run of values, every
    point where it would be without the gaps. A gap (None) is a withheld value (small-count
    suppression): drawn as nothing, not as 0, which would claim no traffic."""
    if not values:
        return []
    placed = _points([value or 0.0 for value in values], width, height, top)
    runs: list[list[tuple[float, float]]] = [[]]
    for point, value in zip(placed, values, strict=True):
        if value is None:
            if runs[-1]:
                runs.append([])
        else:
            runs[-1].append(point)
    return [run for run in runs if run]


def _peak(values: Sequence[float | None]) -> float:
    return max((value for value in values if value is not None), default=0.0)


def _polyline_points(points: Sequence[tuple[float, float]], dx: float, dy: float) -> str:
    return " ".join(f"{_num(x + dx)},{_num(y + dy)}" for x, y in points)


def nice_ceiling(value: float) -> float:
    """The smallest of 1, 2, 2.5, 5 × 10^k at or above `value` (a round axis maximum)."""
    if value <= 0:
        return 1.0
    magnitude = 1.0
    while magnitude * 10 <= value:
        magnitude *= 10
    while magnitude > value:
        magnitude /= 10
    for factor in (1, 2, 2.5, 5, 10):
        if factor * magnitude >= value:
            return factor * magnitude
    return 10 * magnitude


def nice_count_ceiling(value: float) -> int:
    """The smallest of 1, 2, 2.5, 4, 5 × 10^k at or above `value` whose half is a whole number
    too: the top of a count axis, whose three ticks (0, half, top) must all be integers."""
    magnitude = 1
    while True:
        for tenths in (10, 20, 25, 40, 50):
            top, rest = divmod(tenths * magnitude, 10)
            if rest == 0 and top % 2 == 0 and top >= value:
                return top
        magnitude *= 10


def sparkline(values: Sequence[float | None], *, width: int = 100, height: int = 20) -> str:
    """A tiny line of `values` (no axes), scaled to its own maximum; empty series -> ''.

    None is a withheld value: a gap in the line, a lone value between gaps a dot. The label
    then counts the gaps instead of a total, which with the row's own total would give
    away what the gaps withhold."""
    if not values:
        return ""
    pad = 2
    runs = _runs(values, width - 2 * pad, height - 2 * pad, _peak(values))
    hidden = sum(value is None for value in values)
    if hidden:
        label = f"trend, {hidden} of {len(values)} withheld"
    else:
        label = f"trend, total {_num(float(sum(value or 0 for value in values)))}"
    marks = []
    for run in runs:
        if len(run) == 1 and hidden:
            x, y = run[0]
            marks.append(
                f'<circle cx="{_num(x + pad)}" cy="{_num(y + pad)}" r="1.5" fill="{PALETTE[0]}"/>'
            )
        else:
            marks.append(
                f'<polyline points="{_polyline_points(run, pad, pad)}" fill="none" '
                f'stroke="{PALETTE[0]}" stroke-width="1.5" '
                'stroke-linejoin="round" stroke-linecap="round"/>'
            )
    return (
        f'<svg class="cw-sparkline" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" role="img" aria-label="{label}">'
        f"{''.join(marks)}</svg>"
    )


def line_chart(
    series: Mapping[str, Sequence[float | None]],
    labels: Sequence[str],
    *,
    title: str = "",
    width: int = 720,
    height: int = 260,
    fit_legend: bool = False,
    empty_label: str = "no data",
    dashed: Collection[str] = (),
    described_by: str | None = None,
) -> str:
    """A line per series of counts over shared x `labels`, with a y axis from 0 and a legend.

    The axis ticks (0, half, top) are whole numbers: a count of 0.5 visitors reads as a bug.

    `fit_legend`: cut a long legend entry in the middle so that it stays in its half of the
    legend row (its whole name becomes the entry's tooltip); for names from visitors (paths).

    A None value is withheld (small-count suppression): a gap in its line, and a lone value
    between gaps is a dot. Series longer or shorter than `labels` are drawn as they are; an
    empty mapping gives a
    chart frame with the words "no data", so a page never breaks on an empty range.
    `empty_label`: those words, for a caller that knows better why nothing is drawn (a
    dashboard whose every bucket is suppressed has data, withheld).

    `dashed`: the names of series drawn dashed, with a dashed legend swatch (a previous period):
    told apart from the others by more than their colour (WCAG 1.4.1).
    `described_by`: the id of the element holding the chart's numbers (a table), for the svg's
    aria-describedby: its name alone tells a screen reader nothing of the data (WCAG 1.1.1).
    """
    left, right = 48, 12
    top_pad = 28 if title else 12
    bottom = 30 + 14 * ((len(series) + 1) // 2)  # x labels, then the legend
    plot_w = width - left - right
    plot_h = height - top_pad - bottom
    peak = max((_peak(values) for values in series.values()), default=0.0)
    y_max = nice_count_ceiling(peak)
    parts = [
        f'<svg class="cw-chart" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" role="img" aria-label="{escape(title or "chart")}"'
        + (f' aria-describedby="{escape(described_by)}"' if described_by else "")
        + ">",
    ]
    if title:
        parts.append(
            f'<text x="{left}" y="18" font-size="14" font-weight="bold">{escape(title)}</text>'
        )
    # Horizontal grid: 0, half and the top of the axis.
    for fraction in (0.0, 0.5, 1.0):
        y = top_pad + plot_h * (1 - fraction)
        parts.append(
            f'<line x1="{left}" y1="{_num(y)}" x2="{left + plot_w}" y2="{_num(y)}" '
            'stroke="#ddd" stroke-width="1"/>'
        )
        parts.append(
            f'<text x="{left - 6}" y="{_num(y + 4)}" font-size="11" text-anchor="end">'
            f"{_num(y_max * fraction)}</text>"
        )
    if labels:
        parts.append(
            f'<text x="{left}" y="{top_pad + plot_h + 16}" font-size="11">'
            f"{escape(labels[0])}</text>"
        )
        if len(labels) > 1:
            parts.append(
                f'<text x="{left + plot_w}" y="{top_pad + plot_h + 16}" font-size="11" '
                f'text-anchor="end">{escape(labels[-1])}</text>'
            )
    if peak <= 0:
        parts.append(
            f'<text x="{left + plot_w / 2}" y="{top_pad + plot_h / 2}" font-size="13" '
            f'text-anchor="middle" fill="#777">{escape(empty_label)}</text>'
        )
    for index, (raw_name, values) in enumerate(series.items()):
        # Names come from visitors (paths, campaign tags): a bidi override or an escape
        # character would reorder or garble the legend, so they are shown as escapes, as
        # in the report's table.
        name = safe_text(raw_name)
        colour = PALETTE[index % len(PALETTE)]
        dash = f' stroke-dasharray="{DASH}"' if raw_name in dashed else ""
        for points in _runs(values, plot_w, plot_h, y_max):
            if len(points) == 1:
                x, y = points[0]
                parts.append(
                    f'<circle cx="{_num(x + left)}" cy="{_num(y + top_pad)}" r="3" '
                    f'fill="{colour}"/>'
                )
            else:
                parts.append(
                    f'<polyline class="cw-line" '
                    f'points="{_polyline_points(points, left, top_pad)}" fill="none" '
                    f'stroke="{colour}" stroke-width="2" stroke-linejoin="round"{dash}>'
                    f"<title>{escape(name)}</title></polyline>"
                )
        # Legend below the axis, two entries per row.
        lx = left + (index % 2) * (plot_w / 2)
        ly = top_pad + plot_h + 32 + (index // 2) * 14
        text = escape(name)
        if fit_legend:
            shown = clip(name, max(8, int((plot_w / 2 - 20) // LEGEND_CHAR_PX)))
            if shown != name:
                text = f"<title>{escape(name)}</title>{escape(shown)}"
        if dash:  # a stretch of the dashed line: a square would hide the dash
            swatch = (
                f'<line x1="{_num(lx)}" y1="{_num(ly - 4)}" x2="{_num(lx + 16)}" '
                f'y2="{_num(ly - 4)}" stroke="{colour}" stroke-width="2"{dash}/>'
            )
            text_x = lx + 20
        else:
            swatch = (
                f'<rect x="{_num(lx)}" y="{_num(ly - 9)}" width="10" height="10" fill="{colour}"/>'
            )
            text_x = lx + 14
        parts.append(
            f'{swatch}<text x="{_num(text_x)}" y="{_num(ly)}" font-size="11">{text}</text>'
        )
    parts.append("</svg>")
    return "".join(parts)
