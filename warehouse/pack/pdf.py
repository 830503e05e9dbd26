"""The pack printed to PDF."""

from __future__ import annotations

from pathlib import Path


def print_pdf(html: Path, pdf: Path) -> Path:
    """Print the pack to PDF with headless Chromium (A4, from the pack's print CSS)."""
    import shutil
    import subprocess
    import tempfile

    browser = shutil.which("chromium") or shutil.which("chromium-browser")
    if not browser:
        raise FileNotFoundError("--pdf needs Chromium (Debian: apt-get install chromium); the "
                                f"HTML pack is at {html} and prints to PDF from any browser")
    with tempfile.TemporaryDirectory() as profile:
        subprocess.run([browser, "--headless", "--no-sandbox", "--disable-gpu",
                        "--no-first-run", "--disable-background-networking",
                        "--disable-component-update", "--disable-sync",
                        f"--user-data-dir={profile}", "--no-pdf-header-footer",
                        f"--print-to-pdf={pdf}", html.resolve().as_uri()],
                       check=True, capture_output=True, timeout=120)
    return pdf
