"""Inline SVG charts for the board pack: no JavaScript, nothing fetched, prints cleanly.

Colours are the Okabe-Ito palette (distinct for colour-blind readers). Okabe-Ito has only
four lightness levels far enough apart to survive greyscale printing, so every series from
the fifth on is told apart by more than colour: bars get a white hatch, lines a dash pattern
(and point markers). `greyscale_clashes` states the rule and the tests hold the pack to it.

Text never collides: category labels are wrapped to the room they have (text_metrics), a
line chart labels every other category (every third, ...) when one line each does not fit,
and a bar chart whose names need more than two lines under its bars turns horizontal, names
down the left. The legend lists only the
series drawn. Legend entries carry `data-legend` and every mark drawn for a series
`data-series` (the series' place in the chart), so a test can tie one to the other.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from html import escape

from warehouse.pack.text_metrics import LINE_HEIGHT, text_width, wrap

PALETTE = ["#0072B2", "#E69F00", "#009E73", "#000000", "#CC79A7", "#56B4E9", "#D55E00",
           "#F0E442"]
DASHES = ["", "6 3", "2 3", "8 3 2 3", "1 2", "4 4", "10 2", "12 3 2 3 2 3"]
# White strokes drawn over a bar's colour (a path in a 6x6 tile); "" is a plain fill.
HATCHES = ["", "", "", "", "M0,6 L6,0", "M0,3 L6,3", "M3,0 L3,6", "M0,0 L6,6 M0,6 L6,0"]
# CIE L* units. L* is perceptually uniform (unlike relative luminance, where 0.1 is a wide
# gap among dark greys and a narrow one among light ones), and 10 is one step of a ten-step
# grey scale: series of the same pattern closer than that look alike printed in grey.
MIN_LIGHTNESS_GAP = 10.0
W = 640
TOP, RIGHT = 16, 16
PLOT_H = 228  # the plot area of a vertical chart
FONT = 11
LINE = FONT * LINE_HEIGHT
GAP = 6  # the least room between two labels
MAX_LABEL_LINES = 2  # under a bar; more and the chart turns horizontal
NAME_WIDTH = 190  # the most room a horizontal chart gives its category names
# Said across a chart with no value to draw (all withheld in the public pack, say): an empty
# frame would read as zeros.
NOTHING_DRAWN = "No value to draw: withheld or not available (see the table)"


@dataclass
class Series:
    """A named series. `colour` and `pattern` (indexes into PALETTE and HATCHES or DASHES)
    default to the series' place in the chart; `slot` (bars) is its place in a group, so
    that series which never share a category (one source's years, then another's) can share
    one."""
    name: str
    values: list[float | None]
    colour: int | None = None
    pattern: int | None = None
    slot: int | None = None

    def drawn(self) -> bool:
        return any(v is not None for v in self.values)


def lightness(colour: str) -> float:
    """CIE L* (0 black to 100 white) of a #rrggbb colour: what greyscale printing keeps."""
    def linear(c: int) -> float:
        c = c / 255
        return c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4

    r, g, b = (linear(int(colour[i:i + 2], 16)) for i in (1, 3, 5))
    y = 0.2126 * r + 0.7152 * g + 0.0722 * b
    return 116 * y ** (1 / 3) - 16 if y > 0.008856 else 903.3 * y


def greyscale_clashes(styles: list[tuple[str, str]]) -> list[tuple[int, int]]:
    """Pairs of series (colour, pattern) that would look the same printed in grey: the same
    pattern and lightness closer than MIN_LIGHTNESS_GAP."""
    return [(i, j) for i in range(len(styles)) for j in range(i + 1, len(styles))
            if styles[i][1] == styles[j][1]
            and abs(lightness(styles[i][0]) - lightness(styles[j][0])) < MIN_LIGHTNESS_GAP]


def _ident(title: str) -> str:
    return "c" + "".join(ch for ch in title.lower() if ch.isalnum())[:40]


def _style(k: int, s: Series) -> tuple[int, int]:
    return (k if s.colour is None else s.colour, k if s.pattern is None else s.pattern)


def _fill(ident: str, style: tuple[int, int]) -> str:
    colour, pattern = style
    return f"url(#{ident}-h{colour}-{pattern})" if HATCHES[pattern] else PALETTE[colour]


def _hatch_defs(ident: str, styles: list[tuple[int, int]]) -> str:
    tiles = [f'<pattern id="{ident}-h{c}-{p}" patternUnits="userSpaceOnUse" width="6" '
             f'height="6"><rect width="6" height="6" fill="{PALETTE[c]}"/><path '
             f'd="{HATCHES[p]}" stroke="#fff" stroke-width="1.5"/></pattern>'
             for c, p in dict.fromkeys(styles) if HATCHES[p]]
    return f"<defs>{''.join(tiles)}</defs>" if tiles else ""


def _fmt(v: float) -> str:
    if abs(v) >= 1_000_000:
        return f"{v / 1_000_000:,.1f}m"
    if abs(v) >= 10_000:
        return f"{v / 1000:,.0f}k"
    return f"{v:,.0f}" if abs(v) >= 10 or v == int(v) else f"{v:,.1f}"


def _scale(values: list[float], zero: bool = True, cap: float | None = None
           ) -> tuple[float, float, float]:
    """Axis bounds and gridline step: the smallest round step (1, 2, 2.5 or 5 x 10^k) that
    covers the values in at most five intervals."""
    if cap is not None:  # shares that add up to 100 (give or take rounding)
        values = [min(v, cap) for v in values]
    lo = min([0.0, *values]) if zero else min(values, default=0.0)
    hi = max(values, default=1.0)
    if hi == lo:
        hi = lo + 1
    power = 10 ** math.floor(math.log10((hi - lo) / 5))
    for step in (m * power for m in (1, 2, 2.5, 5, 10, 20, 25, 50)):
        low, high = math.floor(lo / step) * step, math.ceil(hi / step) * step
        if (high - low) / step <= 5:
            return low, high, step
    return lo, hi, (hi - lo) / 4


def _ticks(scale: tuple[float, float, float], unit: str) -> list[tuple[float, str]]:
    lo, hi, step = scale
    return [(lo + step * k, f"{_fmt(lo + step * k)}{unit}")
            for k in range(round((hi - lo) / step) + 1)]


def _text(x: float, y: float, lines: list[str], anchor: str = "middle") -> str:
    """A label of one or more lines, the first line's baseline at y."""
    if len(lines) == 1:
        return (f'<text x="{x:.1f}" y="{y:.1f}" font-size="{FONT}" text-anchor="{anchor}">'
                f"{escape(lines[0])}</text>")
    spans = "".join(f'<tspan x="{x:.1f}" dy="{0 if i == 0 else LINE:.2f}">{escape(t)}</tspan>'
                    for i, t in enumerate(lines))
    return (f'<text x="{x:.1f}" y="{y:.1f}" font-size="{FONT}" text-anchor="{anchor}">'
            f"{spans}</text>")


def _legend(ident: str, entries: list[tuple[str, int, tuple[int, int]]], kind: str,
            top: float) -> tuple[str, float]:
    """Legend entries (name, series place, style) in rows from `top`, wrapped to the
    chart's width: the SVG and the height it takes."""
    out, x, row, row_h = [], 16.0, top, LINE
    for name, k, style in entries:
        lines = wrap(name, W - RIGHT - 16 - 18, FONT, hard=True)
        width = 18 + max(text_width(t, FONT) for t in lines)
        if x > 16 and x + width > W - RIGHT:
            x, row, row_h = 16.0, row + row_h + 4, LINE
        colour, pattern = style
        mark = (f'<rect x="{x:.1f}" y="{row:.1f}" width="12" height="12" '
                f'fill="{_fill(ident, style)}"/>' if kind == "bar" else
                f'<line x1="{x:.1f}" y1="{row + 6:.1f}" x2="{x + 14:.1f}" y2="{row + 6:.1f}" '
                f'stroke="{PALETTE[colour]}" stroke-width="3" '
                f'stroke-dasharray="{DASHES[pattern]}"/>')
        out.append(f'<g data-legend="{k}">{mark}{_text(x + 18, row + 10, lines, "start")}</g>')
        row_h = max(row_h, len(lines) * LINE)
        x += width + 16
    return "".join(out), (row + row_h - top if entries else 0.0)


def _frame(title: str, desc: str, height: float, body: list[str], defs: str = "") -> str:
    ident = _ident(title)
    return (f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {W} {math.ceil(height)}" '
            f'role="img" aria-labelledby="{ident}-t {ident}-d" class="chart">'
            f'<title id="{ident}-t">{escape(title)}</title>'
            f'<desc id="{ident}-d">{escape(desc)}</desc>{defs}{"".join(body)}</svg>')


def _category_labels(categories: list[str], left: float, thin: bool
                     ) -> tuple[list[tuple[int, list[str]]], int] | None:
    """Which categories get a label under the plot, and their lines: every one, each
    wrapped into at most MAX_LABEL_LINES lines within its share of the width; or, with
    `thin` (ordered categories such as years), every other one (every third, ...) on one
    line when that is what fits. None when the labels do not fit."""
    step = (W - left - RIGHT) / max(1, len(categories))
    for every in range(1, len(categories) + 1) if thin else (1,):
        room = step * every - GAP
        shown = [(i, wrap(str(c), room, FONT)) for i, c in enumerate(categories)
                 if i % every == 0]
        limit = 1 if thin else MAX_LABEL_LINES
        if all(lines is not None and len(lines) <= limit for _, lines in shown):
            return shown, max((len(lines) for _, lines in shown), default=1)
    return None


def _left_margin(ticks: list[tuple[float, str]]) -> float:
    return max(40.0, max(text_width(t, FONT) for _, t in ticks) + 12)


def _vertical(title: str, desc: str, categories: list[str], scale: tuple[float, float, float],
              unit: str, labels: tuple[list[tuple[int, list[str]]], int], left: float,
              draw: Callable[[Callable[[float], float], float], list[str]],
              legend: list[tuple[str, int, tuple[int, int]]], kind: str, defs: str) -> str:
    """A chart with categories along the bottom: gridlines and their values, the marks
    `draw` makes (given the value-to-y function and the category step), labels, legend."""
    lo, hi, _ = scale

    def y(v: float) -> float:
        return TOP + PLOT_H * (1 - (v - lo) / (hi - lo))

    body = []
    for v, label in _ticks(scale, unit):
        body.append(f'<line x1="{left:.1f}" x2="{W - RIGHT}" y1="{y(v):.1f}" y2="{y(v):.1f}" '
                    f'stroke="#ddd"/>' + _text(left - 6, y(v) + 4, [label], "end"))
    step = (W - left - RIGHT) / max(1, len(categories))
    body += draw(y, step)
    shown, depth = labels
    base = TOP + PLOT_H
    body += [_text(left + step * (i + 0.5), base + 16, lines) for i, lines in shown]
    body.append(f'<line x1="{left:.1f}" x2="{W - RIGHT}" y1="{y(lo):.1f}" y2="{y(lo):.1f}" '
                f'stroke="#333"/>')
    if not legend:
        body.append(_text((left + W - RIGHT) / 2, TOP + PLOT_H / 2, [NOTHING_DRAWN]))
    legend_top = base + 16 + (depth - 1) * LINE + 12
    items, legend_h = _legend(_ident(title), legend, kind, legend_top)
    body.append(items)
    return _frame(title, desc, legend_top + legend_h + 8, body, defs)


def _bar_layout(series: list[Series], stacked: bool) -> tuple[list[int], int]:
    slots = [0 if stacked else (k if s.slot is None else s.slot) for k, s in enumerate(series)]
    return slots, (1 if stacked else max(slots, default=0) + 1)


def _bar_values(series: list[Series], categories: list[str], stacked: bool) -> list[float]:
    if stacked:
        return [sum(s.values[i] or 0 for s in series) for i in range(len(categories))]
    return [v for s in series for v in s.values if v is not None]


def _tooltip(s: Series, category: str, v: float, unit: str) -> str:
    return f"<title>{escape(s.name)} {escape(str(category))}: {_fmt(v)}{unit}</title>"


def bars(title: str, desc: str, categories: list[str], series: list[Series],
         stacked: bool = False, unit: str = "") -> str:
    """Grouped (or stacked) bars, one group per category: vertical, or horizontal when the
    category names do not fit under the bars."""
    scale = _scale(_bar_values(series, categories, stacked),
                   cap=100.0 if stacked and unit == "%" else None)
    left = _left_margin(_ticks(scale, unit))
    labels = _category_labels([str(c) for c in categories], left, thin=False)
    if labels is None:
        return _horizontal_bars(title, desc, categories, series, stacked, unit, scale)
    ident = _ident(title)
    styles = [_style(k, s) for k, s in enumerate(series)]
    slots, n_slots = _bar_layout(series, stacked)

    def draw(y: Callable[[float], float], step: float) -> list[str]:
        width = step * 0.7 / n_slots
        out = []
        for i in range(len(categories)):
            base = 0.0
            for k, s in enumerate(series):
                v = s.values[i]
                if v is None:
                    continue
                x = left + step * i + step * 0.15 + slots[k] * width
                top, bottom = (base + v, base) if stacked else (max(v, 0), min(v, 0))
                out.append(f'<rect x="{x:.1f}" y="{y(top):.1f}" width="{width:.1f}" '
                           f'height="{max(0.5, y(bottom) - y(top)):.1f}" '
                           f'fill="{_fill(ident, styles[k])}" data-series="{k}">'
                           f"{_tooltip(s, categories[i], v, unit)}</rect>")
                if stacked:
                    base += v
        return out

    legend = [(s.name, k, styles[k]) for k, s in enumerate(series) if s.drawn()]
    return _vertical(title, desc, categories, scale, unit, labels, left, draw, legend, "bar",
                     _hatch_defs(ident, [styles[k] for _, k, _ in legend]))


def _horizontal_bars(title: str, desc: str, categories: list[str], series: list[Series],
                     stacked: bool, unit: str, scale: tuple[float, float, float]) -> str:
    """Bars along the width, one band per category, its name (wrapped) on the left."""
    ident = _ident(title)
    styles = [_style(k, s) for k, s in enumerate(series)]
    slots, n_slots = _bar_layout(series, stacked)
    names = [wrap(str(c), NAME_WIDTH, FONT, hard=True) for c in categories]
    left = max(text_width(t, FONT) for lines in names for t in lines) + 12
    ticks = _ticks(scale, unit)
    right = max(RIGHT, text_width(ticks[-1][1], FONT) / 2 + 4)
    lo, hi, _ = scale

    def x(v: float) -> float:
        return left + (W - left - right) * (v - lo) / (hi - lo)

    bands = [max(len(lines) * LINE + 8, n_slots * 10 + 10, 24) for lines in names]
    plot_h = sum(bands)
    body = [f'<line x1="{x(v):.1f}" x2="{x(v):.1f}" y1="{TOP}" y2="{TOP + plot_h:.1f}" '
            f'stroke="#ddd"/>' + _text(x(v), TOP + plot_h + 16, [label]) for v, label in ticks]
    band_top = float(TOP)
    for i, (lines, band) in enumerate(zip(names, bands, strict=True)):
        middle = band_top + band / 2
        body.append(_text(left - 6, middle + 4 - (len(lines) - 1) * LINE / 2, lines, "end"))
        thick = (band - 8) / n_slots
        base = 0.0
        for k, s in enumerate(series):
            v = s.values[i]
            if v is None:
                continue
            start, end = (base, base + v) if stacked else (min(v, 0), max(v, 0))
            y = band_top + 4 + slots[k] * thick
            body.append(f'<rect x="{x(start):.1f}" y="{y:.1f}" '
                        f'width="{max(0.5, x(end) - x(start)):.1f}" height="{thick:.1f}" '
                        f'fill="{_fill(ident, styles[k])}" data-series="{k}">'
                        f"{_tooltip(s, categories[i], v, unit)}</rect>")
            if stacked:
                base += v
        band_top += band
    body.append(f'<line x1="{x(lo):.1f}" x2="{x(lo):.1f}" y1="{TOP}" y2="{TOP + plot_h:.1f}" '
                f'stroke="#333"/>')
    legend = [(s.name, k, styles[k]) for k, s in enumerate(series) if s.drawn()]
    if not legend:
        body.append(_text((left + W - right) / 2, TOP + plot_h / 2 + 4, [NOTHING_DRAWN]))
    legend_top = TOP + plot_h + 16 + 12
    items, legend_h = _legend(ident, legend, "bar", legend_top)
    body.append(items)
    return _frame(title, desc, legend_top + legend_h + 8, body,
                  _hatch_defs(ident, [styles[k] for _, k, _ in legend]))


def lines(title: str, desc: str, categories: list[str], series: list[Series],
          unit: str = "", zero: bool = True) -> str:
    """One line per series over the categories, with point markers."""
    values = [v for s in series for v in s.values if v is not None]
    scale = _scale(values, zero)
    left = _left_margin(_ticks(scale, unit))
    labels = _category_labels([str(c) for c in categories], left, thin=True)
    if labels is None:  # not even one label fits: none is shown (the table has them all)
        labels = ([], 1)
    styles = [_style(k, s) for k, s in enumerate(series)]

    def draw(y: Callable[[float], float], step: float) -> list[str]:
        out = []
        for k, s in enumerate(series):
            points = [(left + step * (i + 0.5), y(v)) for i, v in enumerate(s.values)
                      if v is not None]
            if not points:
                continue
            colour, pattern = styles[k]
            path = " ".join(f"{px:.1f},{py:.1f}" for px, py in points)
            out.append(f'<polyline points="{path}" fill="none" stroke="{PALETTE[colour]}" '
                       f'stroke-width="2.5" stroke-dasharray="{DASHES[pattern]}" '
                       f'data-series="{k}"/>')
            out += [f'<circle cx="{px:.1f}" cy="{py:.1f}" r="3" fill="{PALETTE[colour]}" '
                    f'data-series="{k}"/>' for px, py in points]
        return out

    legend = [(s.name, k, styles[k]) for k, s in enumerate(series) if s.drawn()]
    return _vertical(title, desc, categories, scale, unit, labels, left, draw, legend, "line",
                     "")
