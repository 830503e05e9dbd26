"""`sendboard published fetch` against a local HTTP server standing in for Explore Education
Statistics (no network): the latest release's zip is found, its data CSVs land in
LANDING/published/<release>/ and load; network and zip problems are one-line errors."""

from __future__ import annotations

import http.server
import io
import json
import threading
import zipfile

import pytest

from tests.test_appeal_rates import real_lines
from tests.test_inclusion_benchmarks import write_absence_termly, write_exclusions
from tests.test_release_layouts import headers_2026
from warehouse import loads
from warehouse.archive import sha256_of
from warehouse.dfe_statistics import prepare_release
from warehouse.release_fetch import FetchError, fetch_release

APPEALS = "SEND appealable decisions rate 2024-2025"
RELEASE_ID = "2e60aacd-d46c-416a-af4d-9d2269506ff6"


def csv_text(name: str) -> bytes:
    header, rows = headers_2026()[name]
    return ("\n".join(",".join(r) for r in [header, *rows]) + "\n").encode()


def release_zip() -> bytes:
    """A release zip laid out as EES's: data/, data-guidance/, supporting-files/."""
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as z:
        z.writestr("data/caseload.csv", csv_text("data/caseload.csv"))
        z.writestr("data/requests.csv", csv_text("data/requests.csv"))
        z.writestr("data/requests.meta.csv", "col_name,col_type\nrequests_received_in_year,"
                                             "Indicator\n")
        z.writestr("data-guidance/data-guidance.txt", "Education, health and care plans\n")
        z.writestr("supporting-files/sen2_dmo_dco.csv",
                   csv_text("supporting-files/sen2_dmo_dco.csv"))
        z.writestr(f"supporting-files/{APPEALS}.csv", "\n".join(real_lines()) + "\n")
    return out.getvalue()


class EES(http.server.BaseHTTPRequestHandler):
    routes: dict[str, tuple[str, bytes, dict[str, str]]] = {}
    asked: list[str] = []

    def do_GET(self):  # noqa: N802 (http.server's name)
        self.asked.append(self.path)
        if self.path not in self.routes:
            self.send_error(404, "Not Found")
            return
        kind, body, headers = self.routes[self.path]
        self.send_response(200)
        self.send_header("Content-Type", kind)
        self.send_header("Content-Length", str(len(body)))
        for k, v in headers.items():
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):  # quiet
        pass


ABSENCE_ID = "7d3e0c51-3c1a-4b4e-9a43-5f0d1c2b9e10"
EXCLUSIONS_ID = "0c4b1f2e-9d8a-4e6b-8f21-3a5c7e9b1d42"
FILE_IDS = {"absence_characteristics": "11111111-2222-4333-8444-555555555555",
            "absence_school_level": "66666666-7777-4888-9999-000000000000",
            "characteristic_summary_notes": "aaaaaaaa-bbbb-4ccc-8ddd-eeeeeeeeeeee",
            "exc_characteristics": "12345678-1234-4234-8234-123456789abc"}
# A data file whose name says "characteristic" but whose header no reader of sendboard takes.
NOT_READ = b"time_period,time_identifier,geographic_level,country_code,characteristic,note\n"


def _file_info(stem: str, title: str, kind: str = "Data") -> dict:
    return {"id": FILE_IDS[stem], "fileName": f"{stem}.csv", "name": title, "size": "1 Mb",
            "type": kind}


def inclusion_routes(folder) -> dict[str, tuple[str, bytes, dict[str, str]]]:
    """EES's absence and exclusions publications: their latest release's JSON (downloadFiles,
    as EES's FileInfo) and each data file by id."""
    absence = write_absence_termly(folder / "absence.csv").read_bytes()
    exclusions = write_exclusions(folder / "exclusions.csv").read_bytes()
    api = "/api/publications"
    files = f"/api/releases/{ABSENCE_ID}/files"
    return {
        f"{api}/pupil-absence-in-schools-in-england/releases/latest": (
            "application/json", json.dumps({
                "id": ABSENCE_ID, "slug": "2024-25", "title": "Academic year 2024/25",
                "downloadFiles": [
                    _file_info("absence_school_level", "Absence by school"),
                    _file_info("absence_characteristics", "Absence by pupil characteristic"),
                    _file_info("characteristic_summary_notes", "Characteristic notes"),
                    {**_file_info("exc_characteristics", "Characteristics guidance"),
                     "type": "Ancillary"}]}).encode(), {}),
        f"{files}/{FILE_IDS['absence_characteristics']}": ("text/csv", absence, {}),
        f"{files}/{FILE_IDS['characteristic_summary_notes']}": ("text/csv", NOT_READ, {}),
        f"{api}/suspensions-and-permanent-exclusions-in-england/releases/latest": (
            "application/json", json.dumps({
                "id": EXCLUSIONS_ID, "slug": "2024-25-autumn-term",
                "title": "Autumn term 2024/25",
                "downloadFiles": [_file_info("exc_characteristics",
                                             "Suspensions and permanent exclusions by "
                                             "characteristic")]}).encode(), {}),
        f"/api/releases/{EXCLUSIONS_ID}/files/{FILE_IDS['exc_characteristics']}": (
            "text/csv", exclusions, {}),
        "/only-school-level/publications/pupil-absence-in-schools-in-england/releases/latest": (
            "application/json", json.dumps({
                "id": ABSENCE_ID, "slug": "2024-25", "downloadFiles": [
                    _file_info("absence_school_level", "Absence by school")]}).encode(), {}),
        "/not-read/publications/suspensions-and-permanent-exclusions-in-england/releases/"
        "latest": ("application/json", json.dumps({
            "id": ABSENCE_ID, "slug": "2024-25", "downloadFiles": [
                _file_info("characteristic_summary_notes", "Characteristic notes")]}).encode(),
            {}),
        f"/not-read/releases/{ABSENCE_ID}/files/{FILE_IDS['characteristic_summary_notes']}": (
            "text/csv", NOT_READ, {}),
    }


@pytest.fixture(scope="module")
def ees(tmp_path_factory):
    zipped = release_zip()
    EES.routes = {
        **inclusion_routes(tmp_path_factory.mktemp("ees")),
        "/api/publications/education-health-and-care-plans/releases/latest": (
            "application/json", json.dumps({"id": RELEASE_ID, "slug": "2026",
                                            "title": "Reporting year 2026"}).encode(), {}),
        f"/api/releases/{RELEASE_ID}/files": ("application/zip", zipped, {
            "Content-Disposition":
                'attachment; filename="education-health-and-care-plans_2026.zip"'}),
        "/downloads/ehcp-2022.zip": ("application/zip", zipped, {}),
        "/downloads/not-a-zip.zip": ("text/html", b"<html>maintenance</html>", {}),
        "/downloads/empty.zip": ("application/zip", _empty_zip(), {}),
        "/bad/publications/education-health-and-care-plans/releases/latest": (
            "text/html", b"<html>not json</html>", {}),
    }
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), EES)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}", zipped
    server.shutdown()
    server.server_close()
    thread.join(timeout=5)


def _empty_zip() -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as z:
        z.writestr("data-guidance/data-guidance.txt", "guidance only\n")
    return out.getvalue()


def test_the_latest_release_lands_its_data_csvs(ees, tmp_path):
    base, _ = ees
    got = fetch_release(tmp_path / "landing", api=f"{base}/api")
    folder = tmp_path / "landing" / "published" / "education-health-and-care-plans_2026"
    assert got.folder == folder and got.title == "Reporting year 2026"
    assert got.url == f"{base}/api/releases/{RELEASE_ID}/files"
    # The data CSVs, and of the supporting files the appeal rate table, which loads too.
    assert sorted(p.name for p in folder.iterdir()) == [f"{APPEALS}.csv", "caseload.csv",
                                                        "requests.csv"]
    assert (folder / "caseload.csv").read_bytes() == csv_text("data/caseload.csv")
    # Nothing but the release is left in the landing folder.
    assert sorted(p.name for p in (tmp_path / "landing").iterdir()) == ["published"]
    found = loads.discover(tmp_path / "landing", {})
    kinds = []
    for f in found.new:
        p = prepare_release(f)
        kinds.append((f.path.name, p.rejection, p.staged["kind"][0], p.staged["release"][0]))
    assert sorted(kinds) == [(f"{APPEALS}.csv", None, "ehcp_appeal_rate", 2026),
                             ("caseload.csv", None, "ehcp_caseload", 2019),
                             ("requests.csv", None, "ehcp_requests", 2020)]


def test_fetching_again_writes_the_same_bytes_and_loads_nothing_new(ees, tmp_path):
    base, _ = ees
    first = fetch_release(tmp_path, api=f"{base}/api")
    before = {p.name: sha256_of(p) for p in first.files}
    again = fetch_release(tmp_path, api=f"{base}/api")
    assert {p.name: sha256_of(p) for p in again.files} == before


def test_the_command_fetches_a_given_zip_into_the_landing_folder(ees, tmp_path, capsys):
    from sendboard.cli import main

    base, _ = ees
    landing = tmp_path / "landing"
    assert main(["published", "fetch", "--url", f"{base}/downloads/ehcp-2022.zip",
                 "--landing", str(landing)]) == 0
    out = capsys.readouterr().out.splitlines()
    folder = landing / "published" / "ehcp-2022"
    assert out[0] == f"fetched the release from {base}/downloads/ehcp-2022.zip"
    assert out[1].startswith(f"  wrote {folder / 'caseload.csv'} (")
    assert out[-1] == f"3 data files in {folder}: `sendboard run` loads them"


def test_the_command_defaults_to_home_landing(ees, tmp_path, capsys, monkeypatch):
    from sendboard.cli import main

    base, _ = ees
    monkeypatch.setenv("SENDBOARD_HOME", str(tmp_path / "home"))
    assert main(["published", "fetch", "--url", f"{base}/downloads/ehcp-2022.zip"]) == 0
    assert (tmp_path / "home" / "landing" / "published" / "ehcp-2022" / "requests.csv"
            ).is_file()


@pytest.mark.parametrize("path,message", [
    ("/downloads/missing.zip", "{base}/downloads/missing.zip answered HTTP 404 Not Found"),
    ("/downloads/not-a-zip.zip", "{base}/downloads/not-a-zip.zip did not send a zip file"),
    ("/downloads/empty.zip", "the zip from {base}/downloads/empty.zip has no data CSV files"),
])
def test_a_bad_download_is_one_line_and_exit_1(ees, tmp_path, capsys, path, message):
    from sendboard.cli import main

    base, _ = ees
    landing = tmp_path / "landing"
    assert main(["published", "fetch", "--url", base + path, "--landing", str(landing)]) == 1
    err = capsys.readouterr().err
    assert err == f"sendboard: published fetch failed: {message.format(base=base)}\n"
    assert not any(p.is_file() for p in landing.rglob("*"))


def test_an_api_that_is_not_ees_or_not_there_is_one_line(ees, tmp_path):
    base, _ = ees
    with pytest.raises(FetchError, match=r"releases/latest did not answer with JSON"):
        fetch_release(tmp_path, api=f"{base}/bad")
    with pytest.raises(FetchError, match=r"answered HTTP 404"):
        fetch_release(tmp_path, api=f"{base}/api", publication="no-such-publication")
    closed = _closed_port()
    with pytest.raises(FetchError, match=rf"could not reach http://127.0.0.1:{closed}/"):
        fetch_release(tmp_path, url=f"http://127.0.0.1:{closed}/x.zip", timeout=5)


def _closed_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_zip_members_cannot_write_outside_the_release_folder(tmp_path):
    from warehouse.release_fetch import _unpack

    evil = tmp_path / "evil.zip"
    with zipfile.ZipFile(evil, "w") as z:
        z.writestr("data/../../../escape.csv", "time_period\n")
    (tmp_path / "landing" / "published").mkdir(parents=True)
    written = _unpack(evil, "test", tmp_path / "landing" / "published" / "r")
    assert written == [tmp_path / "landing" / "published" / "r" / "escape.csv"]
    assert not (tmp_path / "escape.csv").exists()


def test_the_default_is_the_real_ees_content_api():
    from warehouse.release_fetch import EES_CONTENT_API, PUBLICATION

    assert EES_CONTENT_API == "https://content.explore-education-statistics.service.gov.uk/api"
    assert PUBLICATION == "education-health-and-care-plans"


def test_absence_and_exclusions_land_their_files_by_characteristic_only(ees, tmp_path):
    from warehouse.release_fetch import fetch

    base, _ = ees
    landing = tmp_path / "landing"
    EES.asked.clear()
    got = fetch(landing, "absence", api=f"{base}/api")
    folder = landing / "published" / "pupil-absence-in-schools-in-england_2024-25"
    assert (got.folder, got.title) == (folder, "Academic year 2024/25")
    assert [p.name for p in got.files] == ["absence_characteristics.csv"]
    assert got.skipped == ["characteristic_summary_notes.csv: not a file by pupil "
                           "characteristic that sendboard reads (its header reads as other)"]
    # The school-level file (gigabytes in a real release) and the ancillary file are never
    # asked for: only the release and the two files named for characteristics.
    assert EES.asked == [
        "/api/publications/pupil-absence-in-schools-in-england/releases/latest",
        f"/api/releases/{ABSENCE_ID}/files/{FILE_IDS['absence_characteristics']}",
        f"/api/releases/{ABSENCE_ID}/files/{FILE_IDS['characteristic_summary_notes']}"]
    excl = fetch(landing, "exclusions", api=f"{base}/api")
    assert [p.name for p in excl.files] == ["exc_characteristics.csv"]
    assert excl.folder.name == "suspensions-and-permanent-exclusions-in-england_2024-25-autumn-term"
    assert sorted(p.name for p in landing.iterdir()) == ["published"]
    found = loads.discover(landing, {})
    kinds = sorted((f.path.name, prepare_release(f).rejection,
                    prepare_release(f).staged["kind"].unique().to_list()) for f in found.new)
    assert kinds == [("absence_characteristics.csv", None, ["pupil_absence_by_characteristic"]),
                     ("exc_characteristics.csv", None, ["exclusions_by_characteristic"])]


def test_a_release_with_nothing_by_characteristic_is_one_line_and_lands_nothing(ees, tmp_path,
                                                                               capsys):
    from warehouse.release_fetch import fetch

    base, _ = ees
    with pytest.raises(FetchError) as e:
        fetch(tmp_path, "absence", api=f"{base}/only-school-level")
    assert str(e.value) == ("the latest release of pupil-absence-in-schools-in-england "
                            "(2024-25) lists no data file by pupil characteristic (its files: "
                            "absence_school_level.csv)")
    with pytest.raises(FetchError) as e:
        fetch(tmp_path, "exclusions", api=f"{base}/not-read")
    assert str(e.value) == (
        "no file of the latest release of suspensions-and-permanent-exclusions-in-england "
        "(2024-25) is one sendboard reads: characteristic_summary_notes.csv: not a file by "
        "pupil characteristic that sendboard reads (its header reads as other)")
    assert not any(p.is_file() for p in tmp_path.rglob("*"))
    with pytest.raises(FetchError, match="^--url is a release zip of EHC plans"):
        fetch(tmp_path, "absence", url=f"{base}/downloads/ehcp-2022.zip")


def test_the_command_fetches_all_three_and_says_which_failed(ees, tmp_path, capsys):
    from sendboard.cli import main

    base, _ = ees
    landing = tmp_path / "landing"
    published = landing / "published"
    assert main(["published", "fetch", "--publication", "all", "--api", f"{base}/api",
                 "--landing", str(landing)]) == 0
    got = capsys.readouterr()
    out = got.out.splitlines()
    # A line as each file's download starts (they can be hundreds of MB), on stderr.
    assert got.err.splitlines() == ["  downloading absence_characteristics.csv (1 Mb)",
                                    "  downloading characteristic_summary_notes.csv (1 Mb)",
                                    "  downloading exc_characteristics.csv (1 Mb)"]
    exclusions = "suspensions-and-permanent-exclusions-in-england_2024-25-autumn-term"
    assert [line for line in out if not line.startswith("  wrote ")] == [
        f"fetched Reporting year 2026 from {base}/api/releases/{RELEASE_ID}/files",
        f"3 data files in {published / 'education-health-and-care-plans_2026'}: "
        "`sendboard run` loads them",
        f"fetched Academic year 2024/25 from {base}/api/releases/{ABSENCE_ID}/files",
        "  skipped characteristic_summary_notes.csv: not a file by pupil characteristic that "
        "sendboard reads (its header reads as other)",
        f"1 data file in {published / 'pupil-absence-in-schools-in-england_2024-25'}: "
        "`sendboard run` loads them",
        f"fetched Autumn term 2024/25 from {base}/api/releases/{EXCLUSIONS_ID}/files",
        f"1 data file in {published / exclusions}: `sendboard run` loads them"]
    assert main(["published", "fetch", "--publication", "all", "--api", f"{base}/not-read",
                 "--landing", str(tmp_path / "other")]) == 1
    err = [e for e in capsys.readouterr().err.splitlines() if not e.startswith("  ")]
    assert [e.split(": ", 2)[:2] for e in err] == [
        ["sendboard", "published fetch failed (education-health-and-care-plans)"],
        ["sendboard", "published fetch failed (pupil-absence-in-schools-in-england)"],
        ["sendboard", "published fetch failed (suspensions-and-permanent-exclusions-in-england)"]]
    assert not any(p.is_file() for p in (tmp_path / "other").rglob("*"))
