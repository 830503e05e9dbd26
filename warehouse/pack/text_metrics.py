"""How wide a chart's text will be, so that labels can be wrapped or moved before they
collide: SVG text does not wrap itself, and the pack runs no script to measure it.

Widths are Arial's (Helvetica's metrics, the same for every character here; Liberation Sans,
which Linux substitutes for Arial, shares them), in thousandths of the font size. A reader
whose browser falls back to a wider font (DejaVu Sans is about 10% wider) is covered by
SLACK.
"""

from __future__ import annotations

_WIDTHS: dict[str, int] = {
    " ": 278, "!": 278, '"': 355, "#": 556, "$": 556, "%": 889, "&": 667, "'": 191, "(": 333,
    ")": 333, "*": 389, "+": 584, ",": 278, "-": 333, ".": 278, "/": 278, ":": 278, ";": 278,
    "<": 584, "=": 584, ">": 584, "?": 556, "@": 1015, "[": 278, "\\": 278, "]": 278,
    "^": 469, "_": 556, "`": 333, "{": 334, "|": 260, "}": 334, "~": 584, "£": 556,
    "\u2013": 556, "\u2014": 1000,
    **dict.fromkeys("0123456789", 556),
    **dict(zip("ABCDEFGHIJKLMNOPQRSTUVWXYZ",
               (667, 667, 722, 722, 667, 611, 778, 722, 278, 500, 667, 556, 833, 722, 778,
                667, 778, 722, 667, 611, 722, 667, 944, 667, 667, 611), strict=True)),
    **dict(zip("abcdefghijklmnopqrstuvwxyz",
               (556, 556, 500, 556, 556, 278, 556, 556, 222, 222, 500, 222, 833, 556, 556,
                556, 556, 333, 500, 278, 556, 500, 722, 500, 500, 500), strict=True)),
}
_OTHER = 667  # a character outside the table: as wide as a capital
SLACK = 1.12
LINE_HEIGHT = 1.25  # of the font size, between wrapped lines


def text_width(text: str, size: float) -> float:
    """The width in user units of `text` at font size `size`, with SLACK."""
    return sum(_WIDTHS.get(ch, _OTHER) for ch in text) / 1000 * size * SLACK


def wrap(text: str, width: float, size: float, hard: bool = False) -> list[str] | None:
    """`text` broken at spaces (and after a slash or hyphen) into lines no wider than
    `width`. A single word wider than that gives None, or with `hard` is broken between
    letters."""
    pieces: list[tuple[str, str]] = []  # (piece, what joins it to the one before)
    for word in text.split():
        # "ELP/resource" may break after its slash, "20-52" after its hyphen.
        glue, part = " ", ""
        for ch in word:
            part += ch
            if ch in "/-" and len(part) > 1:
                pieces.append((part, glue))
                glue, part = "", ""
        if part:
            pieces.append((part, glue))
    lines: list[str] = []
    for piece, glue in pieces:
        if lines and text_width(lines[-1] + glue + piece, size) <= width:
            lines[-1] += glue + piece
        elif text_width(piece, size) <= width:
            lines.append(piece)
        elif hard:
            lines.append("")
            for ch in piece:
                if lines[-1] and text_width(lines[-1] + ch, size) > width:
                    lines.append("")
                lines[-1] += ch
        else:
            return None
    return lines or [""]
