"""The KPI definitions (docs/kpis.md) as the pack's appendix."""

from __future__ import annotations

import re
from html import escape
from pathlib import Path


def definitions_appendix(kpi_doc: Path) -> str:
    """docs/kpis.md (`kpi_doc`, Settings.kpi_doc), the one place the KPIs are defined, as
    the pack's appendix (headings, paragraphs and lists: all that file uses)."""
    if not kpi_doc.exists():
        return ("<section><h2>Appendix: KPI definitions</h2><p>See docs/kpis.md in the "
                "sendboard repository.</p></section>")
    def inline(text: str) -> str:
        text = escape(text)
        text = re.sub(r"\*\*(.+?)\*\*", r"<b>\1</b>", text)
        return re.sub(r"`(.+?)`", r"<code>\1</code>", text)

    out, para, items = [], [], []

    def flush() -> None:
        if para:
            out.append(f"<p>{inline(' '.join(para))}</p>")
            para.clear()
        if items:
            out.append("<ul>" + "".join(f"<li>{inline(i)}</li>" for i in items) + "</ul>")
            items.clear()

    for line in kpi_doc.read_text(encoding="utf-8").splitlines():
        if line.startswith("#"):
            flush()
            level = min(len(line) - len(line.lstrip("#")) + 2, 4)  # under the pack's h2
            out.append(f"<h{level}>{inline(line.lstrip('# '))}</h{level}>")
        elif line.startswith("- "):
            if para:
                flush()
            items.append(line[2:])
        elif line.startswith("  ") and items:
            items[-1] += " " + line.strip()
        elif not line.strip():
            flush()
        else:
            para.append(line.strip())
    flush()
    return ("<section class='appendix'><h2>Appendix: KPI definitions</h2>"
            + "".join(out) + "</section>")
