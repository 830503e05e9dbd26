"""What a reader would see wrong in the pack's charts, measured in headless Chromium: text
that collides, legend entries with nothing drawn, series that look alike printed in grey.

`measure(page)` reads every chart of the open page (text boxes as laid out, the marks drawn
for each series with their computed colours and patterns); the functions below judge them.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from warehouse.pack.charts import lightness

MEASURE = r"""
[...document.querySelectorAll('svg.chart')].map(svg => {
  const paint = (el, prop) => {
    const value = getComputedStyle(el)[prop];
    const ref = value.match(/url\("?#([^")]+)"?\)/);
    if (!ref) return [value, ''];
    const tile = svg.getElementById(ref[1]);
    return [getComputedStyle(tile.querySelector('rect')).fill,
            'hatch:' + tile.querySelector('path').getAttribute('d')];
  };
  const style = el => {
    if (el.tagName === 'polyline' || el.tagName === 'line') {
      const dash = getComputedStyle(el).strokeDasharray;
      return [paint(el, 'stroke')[0], 'dash:' + (dash === 'none' ? '' : dash)];
    }
    const [colour, hatch] = paint(el, 'fill');
    return [colour, el.tagName === 'circle' ? 'marker' : (hatch || 'hatch:')];
  };
  const box = el => { const r = el.getBoundingClientRect();
                      return [r.left, r.top, r.right, r.bottom]; };
  return {
    title: svg.querySelector('title').textContent,
    texts: [...svg.querySelectorAll('text')].map(t => [t.textContent, ...box(t)]),
    legend: [...svg.querySelectorAll('[data-legend]')].map(g => [
      +g.dataset.legend, g.querySelector('text').textContent,
      ...style(g.querySelector('rect, line'))]),
    marks: [...svg.querySelectorAll('[data-series]')].map(m => {
      const b = m.getBBox();
      return [+m.dataset.series, m.tagName, b.width, b.height, ...style(m)]; }),
  };
})
"""


@dataclass
class Chart:
    title: str
    texts: list[list]  # text, left, top, right, bottom
    legend: list[list]  # series place, name, colour, pattern
    marks: list[list]  # series place, tag, width, height, colour, pattern


def measure(page) -> list[Chart]:
    return [Chart(**c) for c in page.evaluate(MEASURE)]


def overlapping_text(chart: Chart, tolerance: float = 1.0) -> list[tuple[str, str]]:
    """Pairs of text elements whose boxes overlap by more than `tolerance` px both ways."""
    out = []
    for i, a in enumerate(chart.texts):
        for b in chart.texts[i + 1:]:
            across = min(a[3], b[3]) - max(a[1], b[1])
            down = min(a[4], b[4]) - max(a[2], b[2])
            if across > tolerance and down > tolerance:
                out.append((a[0], b[0]))
    return out


def drawn(chart: Chart) -> set[int]:
    """The series with at least one mark of some size on the page."""
    return {k for k, _, w, h, _, _ in chart.marks if w > 0 or h > 0}


def legend_without_series(chart: Chart) -> list[str]:
    return [name for k, name, _, _ in chart.legend if k not in drawn(chart)]


def hex_colour(css: str) -> str:
    """#rrggbb of a computed CSS colour, rgb(r, g, b)."""
    r, g, b = (int(v) for v in re.findall(r"\d+", css)[:3])
    return f"#{r:02x}{g:02x}{b:02x}"


def series_styles(chart: Chart) -> dict[int, tuple[str, str]]:
    """Each drawn series' (colour, pattern) as rendered: bars their fill and hatch, lines
    their stroke and dashes (markers only where a series has no line)."""
    out: dict[int, tuple[str, str]] = {}
    for k, tag, _, _, colour, pattern in chart.marks:
        if tag != "circle" or k not in out:
            out[k] = (hex_colour(colour), pattern)
    return out


def legend_mismatches(chart: Chart) -> list[str]:
    """Legend entries whose swatch is not styled as the series drawn."""
    styles = series_styles(chart)
    return [name for k, name, colour, pattern in chart.legend
            if k in styles and styles[k] != (hex_colour(colour), pattern)]


def greyscale_pairs(chart: Chart, gap: float, same_pattern_only: bool = True
                    ) -> list[tuple[int, int, float]]:
    """Pairs of series whose lightness (CIE L*) differs by less than `gap`: among series of
    the same pattern (what a reader cannot tell apart in grey), or among all of them."""
    styles = sorted(series_styles(chart).items())
    out = []
    for i, (a, (colour_a, pattern_a)) in enumerate(styles):
        for b, (colour_b, pattern_b) in styles[i + 1:]:
            if same_pattern_only and pattern_a != pattern_b:
                continue
            difference = abs(lightness(colour_a) - lightness(colour_b))
            if difference < gap:
                out.append((a, b, round(difference, 1)))
    return out
