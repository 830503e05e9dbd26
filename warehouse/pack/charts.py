"""Inline SVG charts for the board pack: no JavaScript, nothing fetched, prints cleanly.

Colours are the Okabe-Ito palette (distinct for colour-blind readers). Okabe-Ito has only
four lightness levels far enough apart to survive greyscale printing, so every series from
the fifth on is told apart by more than colour: bars get a white hatch, lines a dash pattern
(and point markers). `greyscale_clashes` states the rule and the tests hold the pack to it.
"""

from __future__ import annotations

from dataclasses import dataclass
from html import escape

PALETTE = ["#0072B2", "#E69F00", "#009E73", "#000000", "#CC79A7", "#56B4E9", "#D55E00",
           "#F0E442"]
DASHES = ["", "6 3", "2 3", "8 3 2 3", "1 2", "4 4", "10 2", "12 3 2 3 2 3"]
# White strokes drawn over a bar's colour (a path in a 6x6 tile); "" is a plain fill.
HATCHES = ["", "", "", "", "M0,6 L6,0", "M0,3 L6,3", "M3,0 L3,6", "M0,0 L6,6 M0,6 L6,0"]
MIN_LIGHTNESS_GAP = 10.0  # CIE L* units; plain series closer than this look alike in grey
W, H = 640, 310
LEFT, RIGHT, TOP, BOTTOM = 64, 16, 16, 66


@dataclass
class Series:
    name: str
    values: list[float | None]


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


def _fill(ident: str, k: int) -> str:
    return f"url(#{ident}-h{k})" if HATCHES[k] else PALETTE[k]


def _hatch_defs(ident: str, count: int) -> str:
    tiles = [f'<pattern id="{ident}-h{k}" patternUnits="userSpaceOnUse" width="6" height="6">'
             f'<rect width="6" height="6" fill="{PALETTE[k]}"/><path d="{HATCHES[k]}" '
             f'stroke="#fff" stroke-width="1.5"/></pattern>'
             for k in range(count) if HATCHES[k]]
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
    import math

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


def _frame(title: str, desc: str, body: list[str], legend: list[tuple[str, int]],
           kind: str) -> str:
    ident = _ident(title)
    items = []
    x, row = LEFT, H - 30
    for name, i in legend:
        width = 26 + 7 * len(name)
        if x + width > W:  # wrap the legend onto a second line
            x, row = LEFT, row + 16
        mark = (f'<rect x="{x}" y="{row - 10}" width="12" height="12" '
                f'fill="{_fill(ident, i)}" data-series="{i}"/>'
                if kind == "bar" else
                f'<line x1="{x}" y1="{row - 4}" x2="{x + 14}" y2="{row - 4}" '
                f'stroke="{PALETTE[i]}" stroke-width="3" stroke-dasharray="{DASHES[i]}" '
                f'data-series="{i}"/>')
        items.append(mark + f'<text x="{x + 18}" y="{row}" font-size="11">{escape(name)}</text>')
        x += width
    defs = _hatch_defs(ident, len(legend)) if kind == "bar" else ""
    return (f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {W} {H}" role="img" '
            f'aria-labelledby="{ident}-t {ident}-d" class="chart">'
            f'<title id="{ident}-t">{escape(title)}</title>'
            f'<desc id="{ident}-d">{escape(desc)}</desc>{defs}{"".join(body)}'
            f'{"".join(items)}</svg>')


def _axes(categories: list[str], scale: tuple[float, float, float], unit: str
          ) -> tuple[list[str], callable]:
    lo, hi, step = scale
    plot_h = H - TOP - BOTTOM

    def y(v: float) -> float:
        return TOP + plot_h * (1 - (v - lo) / (hi - lo))

    out = []
    for k in range(round((hi - lo) / step) + 1):
        v = lo + step * k
        out.append(f'<line x1="{LEFT}" x2="{W - RIGHT}" y1="{y(v):.1f}" y2="{y(v):.1f}" '
                   f'stroke="#ddd"/><text x="{LEFT - 6}" y="{y(v) + 4:.1f}" font-size="11" '
                   f'text-anchor="end">{_fmt(v)}{unit}</text>')
    step = (W - LEFT - RIGHT) / max(1, len(categories))
    every = max(1, len(categories) // 12)
    for i, c in enumerate(categories):
        if i % every == 0:
            out.append(f'<text x="{LEFT + step * (i + 0.5):.1f}" y="{H - BOTTOM + 16}" '
                       f'font-size="11" text-anchor="middle">{escape(str(c))}</text>')
    out.append(f'<line x1="{LEFT}" x2="{W - RIGHT}" y1="{y(lo):.1f}" y2="{y(lo):.1f}" '
               f'stroke="#333"/>')
    return out, y


def bars(title: str, desc: str, categories: list[str], series: list[Series],
         stacked: bool = False, unit: str = "") -> str:
    """Grouped (or stacked) vertical bars, one group per category."""
    values = [v for s in series for v in s.values if v is not None]
    if stacked:
        values = [sum(s.values[i] or 0 for s in series) for i in range(len(categories))]
    scale = _scale(values, cap=100.0 if stacked and unit == "%" else None)
    body, y = _axes(categories, scale, unit)
    step = (W - LEFT - RIGHT) / max(1, len(categories))
    width = step * 0.7 / (1 if stacked else len(series))
    ident = _ident(title)
    for i in range(len(categories)):
        base = 0.0
        for k, s in enumerate(series):
            v = s.values[i]
            if v is None:
                continue
            x = LEFT + step * i + step * 0.15 + (0 if stacked else k * width)
            top, bottom = (base + v, base) if stacked else (max(v, 0), min(v, 0))
            body.append(f'<rect x="{x:.1f}" y="{y(top):.1f}" width="{width:.1f}" '
                        f'height="{max(0.5, y(bottom) - y(top)):.1f}" fill="{_fill(ident, k)}">'
                        f'<title>{escape(s.name)} {escape(str(categories[i]))}: {_fmt(v)}{unit}'
                        f'</title></rect>')
            if stacked:
                base += v
    return _frame(title, desc, body, [(s.name, k) for k, s in enumerate(series)], "bar")


def lines(title: str, desc: str, categories: list[str], series: list[Series],
          unit: str = "", zero: bool = True) -> str:
    """One line per series over the categories, with point markers."""
    values = [v for s in series for v in s.values if v is not None]
    body, y = _axes(categories, _scale(values, zero), unit)
    step = (W - LEFT - RIGHT) / max(1, len(categories))
    for k, s in enumerate(series):
        points = [(LEFT + step * (i + 0.5), y(v)) for i, v in enumerate(s.values)
                  if v is not None]
        if not points:
            continue
        path = " ".join(f"{x:.1f},{py:.1f}" for x, py in points)
        body.append(f'<polyline points="{path}" fill="none" stroke="{PALETTE[k]}" '
                    f'stroke-width="2.5" stroke-dasharray="{DASHES[k]}"/>')
        body += [f'<circle cx="{x:.1f}" cy="{py:.1f}" r="3" fill="{PALETTE[k]}"/>'
                 for x, py in points]
    return _frame(title, desc, body, [(s.name, k) for k, s in enumerate(series)], "line")
