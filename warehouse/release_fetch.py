"""Download a DfE release from Explore Education Statistics (EES) into the landing folder.

EES's content API says which release of a publication is the latest
(`GET {api}/publications/{slug}/releases/latest`, a JSON release with its `id` and `slug`) and
serves all of a release's files as one zip (`GET {api}/releases/{id}/files`). The zip's data
CSVs (`data/*.csv`, without the `.meta.csv` files EES may add) and its supporting SEND Tribunal
appeal rate table are written to LANDING/published/<publication>_<release>/, where the next
run loads them like any landed file: by their headers, each as one more release beside the
others (warehouse/dfe_statistics.py).

The *Pupil absence* and *Suspensions and permanent exclusions* releases are fetched file by
file instead (`fetch_by_characteristic`): their zips hold every school's figures, gigabytes of
which sendboard reads none. The latest release's `downloadFiles` (EES's FileInfo: `id`,
`fileName`, `name`, `type`) name its data files; those whose name or file name says
"characteristic" are streamed from `GET {api}/releases/{id}/files/{fileId}`, and each is kept
only if its header is a file by pupil characteristic that transforms/dfe_statistics.py reads
(the header is read before the rest is downloaded). The routes and fields are EES's own
(dfe-analytical-services/explore-education-statistics: Content.ViewModels/ReleaseViewModel.cs,
Common/Model/FileInfo.cs, Content.Api/Controllers/ReleaseFileController.cs).
"""

from __future__ import annotations

import csv
import json
import os
import re
import shutil
import tempfile
import urllib.error
import urllib.parse
import urllib.request
import zipfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from email.message import Message
from pathlib import Path, PurePosixPath

from transforms import appeal_rates, dfe_statistics

EES_CONTENT_API = "https://content.explore-education-statistics.service.gov.uk/api"
PUBLICATION = "education-health-and-care-plans"
# `sendboard published fetch --publication NAME`: EES's slug of each publication sendboard reads.
PUBLICATIONS = {"ehcp": PUBLICATION,
                "absence": "pupil-absence-in-schools-in-england",
                "exclusions": "suspensions-and-permanent-exclusions-in-england"}
# The kinds of file kept from the absence and exclusions releases (transforms/dfe_statistics.py).
BY_CHARACTERISTIC = ("pupil_absence_by_characteristic", "exclusions_by_characteristic")
HEADER_BYTES = 64 * 1024
TIMEOUT_SECONDS = 60


class FetchError(RuntimeError):
    """The release could not be fetched; the message is one line saying why."""


@dataclass(frozen=True)
class Fetched:
    url: str
    folder: Path
    files: list[Path]
    title: str | None = None
    skipped: list[str] = field(default_factory=list)  # "name: why", files not kept


def _open(url: str, timeout: float):
    request = urllib.request.Request(url, headers={"User-Agent": "sendboard",
                                                   "Accept": "application/json, */*"})
    try:
        return urllib.request.urlopen(request, timeout=timeout)
    except urllib.error.HTTPError as e:
        raise FetchError(f"{url} answered HTTP {e.code} {e.reason}") from None
    except urllib.error.URLError as e:
        raise FetchError(f"could not reach {url}: {e.reason}") from None
    except (TimeoutError, OSError) as e:
        raise FetchError(f"could not reach {url}: {e}") from None


def latest_release(api: str = EES_CONTENT_API, publication: str = PUBLICATION,
                   timeout: float = TIMEOUT_SECONDS) -> dict:
    """EES's latest release of the publication: its `id`, `slug` (e.g. `2025`) and `title`."""
    url = f"{api.rstrip('/')}/publications/{publication}/releases/latest"
    with _open(url, timeout) as response:
        body = response.read()
    try:
        release = json.loads(body)
    except ValueError:
        raise FetchError(f"{url} did not answer with JSON (is it the EES content API?)") from None
    if not isinstance(release, dict) or not release.get("id") or not release.get("slug"):
        raise FetchError(f"{url} answered without a release id and slug")
    return release


def _folder_name(text: str) -> str:
    # A folder name from an EES slug or a zip's name: letters, digits, '-', '_' and '.' only.
    name = re.sub(r"[^A-Za-z0-9._-]+", "-", text).strip("-.")
    return name or "release"


def _zip_name(response, url: str) -> str:
    disposition = response.headers.get("Content-Disposition")
    if disposition:
        message = Message()
        message["content-disposition"] = disposition
        if filename := message.get_param("filename", header="content-disposition"):
            return PurePosixPath(str(filename)).stem
    return PurePosixPath(urllib.parse.unquote(urllib.parse.urlsplit(url).path)).stem


def data_csvs(archive: zipfile.ZipFile) -> list[zipfile.ZipInfo]:
    """The zip's data files: CSVs under a `data/` folder (all its CSVs when it has none),
    never EES's `.meta.csv` column descriptions; and, from its other folders
    (`supporting-files/`), the SEND Tribunal appeal rate table, which the loader reads too
    (transforms/appeal_rates.py), known by its opening lines."""
    csvs = [m for m in archive.infolist() if not m.is_dir()
            and m.filename.lower().endswith(".csv")
            and not m.filename.lower().endswith(".meta.csv")]
    under_data = [m for m in csvs if "data" in PurePosixPath(m.filename).parts[:-1]]
    if not under_data:
        return csvs
    return under_data + [m for m in csvs if m not in under_data
                         and _is_appeal_rate_table(archive, m)]


def _is_appeal_rate_table(archive: zipfile.ZipFile, member: zipfile.ZipInfo) -> bool:
    # Its title and header rows come within its first lines (a few hundred bytes).
    with archive.open(member) as f:
        return appeal_rates.opens_like_the_table(f.read(4096).decode("utf-8", errors="replace"))


@contextmanager
def _staging(target: Path) -> Iterator[Path]:
    """A folder for a release's files while they download: in the landing folder beside
    published/, not in it, so that a run meanwhile never loads half a release."""
    staging = Path(tempfile.mkdtemp(prefix=".sendboard-fetch-", dir=target.parents[1]))
    try:
        yield staging
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def _into_place(staging: Path, names: list[str], target: Path) -> list[Path]:
    target.mkdir(parents=True, exist_ok=True)
    for name in names:
        os.replace(staging / name, target / name)
    return [target / name for name in names]


def _unpack(zip_path: Path, url: str, target: Path) -> list[Path]:
    try:
        with zipfile.ZipFile(zip_path) as archive:
            members = data_csvs(archive)
            if not members:
                raise FetchError(f"the zip from {url} has no data CSV files")
            names = [PurePosixPath(m.filename).name for m in members]
            if len(set(names)) != len(names):
                raise FetchError(f"the zip from {url} has two data files of the same name")
            with _staging(target) as staging:
                for member, name in zip(members, names, strict=True):
                    # Only the file name is used, so no member can write outside the folder.
                    with archive.open(member) as src, (staging / name).open("wb") as dst:
                        shutil.copyfileobj(src, dst)
                return _into_place(staging, names, target)
    except zipfile.BadZipFile:
        raise FetchError(f"{url} did not send a zip file") from None
    except (zipfile.LargeZipFile, NotImplementedError, OSError) as e:
        raise FetchError(f"could not unpack the zip from {url}: {e}") from None


def fetch_release(landing: Path, url: str | None = None, api: str = EES_CONTENT_API,
                  publication: str = PUBLICATION, timeout: float = TIMEOUT_SECONDS) -> Fetched:
    """Download a release zip (`url`, or else the publication's latest release from EES) and
    write its data CSVs to LANDING/published/<release>/. Files already there with the same
    name are replaced (the same bytes load nothing new; a revised file loads as a revision).
    Raises FetchError with a one-line reason."""
    title, folder = None, None
    if url is None:
        release = latest_release(api, publication, timeout)
        url = f"{api.rstrip('/')}/releases/{release['id']}/files"
        folder = _folder_name(f"{publication}_{release['slug']}")
        title = release.get("title")
    published = landing / "published"
    published.mkdir(parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(prefix=".sendboard-fetch-", suffix=".zip", dir=landing)
    zip_path = Path(name)
    try:
        with os.fdopen(fd, "wb") as out, _open(url, timeout) as response:
            if folder is None:
                folder = _folder_name(_zip_name(response, url))
            try:
                shutil.copyfileobj(response, out)
            except (TimeoutError, OSError) as e:
                raise FetchError(f"the download from {url} broke off: {e}") from None
        files = _unpack(zip_path, url, published / folder)
    finally:
        zip_path.unlink(missing_ok=True)
    return Fetched(url, published / folder, files, title)


def _is_data_about_characteristics(info: dict) -> bool:
    kind = str(info.get("type") or "data").lower()
    text = f"{info.get('name') or ''} {info.get('fileName') or ''}".lower()
    return kind == "data" and "characteristic" in text and bool(info.get("id"))


def _header_kind(head: bytes) -> str:
    """The kind of EES file whose first bytes are `head`, from its header line."""
    line = head.split(b"\n", 1)[0].decode("utf-8-sig", errors="replace").strip("\r")
    columns = next(csv.reader([line]), [])
    return dfe_statistics.recognise(columns, set()) if dfe_statistics.is_ees(columns) else "other"


def fetch_by_characteristic(landing: Path, publication: str, api: str = EES_CONTENT_API,
                            timeout: float = TIMEOUT_SECONDS,
                            progress: Callable[[str], None] | None = None) -> Fetched:
    """The latest release of `publication` (absence or exclusions): its data files by pupil
    characteristic written to LANDING/published/<publication>_<release>/, all or none;
    `progress` is told of each file as its download starts (they can be hundreds of MB).
    Raises FetchError with a one-line reason."""
    release = latest_release(api, publication, timeout)
    listed = [f for f in release.get("downloadFiles") or [] if isinstance(f, dict)]
    wanted = [f for f in listed if _is_data_about_characteristics(f)]
    if not wanted:
        names = ", ".join(str(f.get("fileName") or f.get("name")) for f in listed) or "none"
        raise FetchError(f"the latest release of {publication} ({release['slug']}) lists no "
                         f"data file by pupil characteristic (its files: {names})")
    files_url = f"{api.rstrip('/')}/releases/{release['id']}/files"
    named = [(_folder_name(PurePosixPath(str(info.get("fileName") or "")).name
                           or f"{info['id']}.csv"), info) for info in wanted]
    if len({name for name, _ in named}) != len(named):
        raise FetchError(f"the latest release of {publication} ({release['slug']}) lists two "
                         "data files of the same name")
    folder = landing / "published" / _folder_name(f"{publication}_{release['slug']}")
    folder.parent.mkdir(parents=True, exist_ok=True)
    kept, skipped = [], []
    with _staging(folder) as staging:
        for name, info in named:
            url = f"{files_url}/{info['id']}"
            if progress:
                progress(f"downloading {name}" + (f" ({info['size']})" if info.get("size")
                                                  else ""))
            with _open(url, timeout) as response:
                try:
                    head = response.read(HEADER_BYTES)
                    kind = _header_kind(head)
                    if kind not in BY_CHARACTERISTIC:
                        skipped.append(f"{name}: not a file by pupil characteristic that "
                                       f"sendboard reads (its header reads as {kind})")
                        continue
                    with (staging / name).open("wb") as out:
                        out.write(head)
                        shutil.copyfileobj(response, out)
                except (TimeoutError, OSError) as e:
                    raise FetchError(f"the download from {url} broke off: {e}") from None
            kept.append(name)
        if not kept:
            raise FetchError(f"no file of the latest release of {publication} "
                             f"({release['slug']}) is one sendboard reads: "
                             + "; ".join(skipped))
        written = _into_place(staging, kept, folder)
    return Fetched(files_url, folder, written, release.get("title"), skipped)


def fetch(landing: Path, publication: str = "ehcp", url: str | None = None,
          api: str = EES_CONTENT_API, timeout: float = TIMEOUT_SECONDS,
          progress: Callable[[str], None] | None = None) -> Fetched:
    """`sendboard published fetch`: one publication of PUBLICATIONS, by its short name."""
    if publication == "ehcp":
        return fetch_release(landing, url=url, api=api, timeout=timeout)
    if url is not None:
        raise FetchError("--url is a release zip of EHC plans; the absence and exclusions "
                         "releases are fetched from EES file by file")
    return fetch_by_characteristic(landing, PUBLICATIONS[publication], api, timeout, progress)
