"""Files are archived (sealed) by their SHA-256 as soon as a prepare task starts on them,
whatever then becomes of them, and two threads archiving the same bytes leave one copy.
What sealing guarantees: tests/test_archive_encryption.py."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

from tests import handmade
from tests.conftest import archive_at
from warehouse import loads
from warehouse.archive import sha256_of


def opened(archive, path) -> bytes:
    with archive.opened(path, path.name, path.parent.name) as plain:
        return plain.read_bytes()


def landed(tmp_path, source, name, text):
    path = tmp_path / "landing" / source / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return loads.LandedFile(source, path, sha256_of(path))


def test_prepare_archives_the_file_before_reading_it_even_when_rejected(tmp_path):
    root = archive_at(tmp_path)
    good = landed(tmp_path, "census", "census.csv",
                  "\n".join([handmade.CENSUS_HEADER, *handmade.census_rows()]) + "\n")
    bad = landed(tmp_path, "census", "notes.txt", "not a census\n")
    prepared = loads.prepare(good, b"k" * 32, root)
    rejected = loads.prepare(bad, b"k" * 32, root)
    assert prepared.rejection is None and rejected.rejection is not None
    for f in (good, bad):
        copy = root.root / "census" / f"{f.sha256}{f.path.suffix}.enc"
        assert opened(root, copy) == f.path.read_bytes()
        assert copy.read_bytes() != f.path.read_bytes()


def test_a_sen2_module_is_archived_by_its_read_task(tmp_path):
    root = archive_at(tmp_path)
    f = landed(tmp_path, "sen2", "Blade-Export_26-03-2026_sen2.csv", "not,a,module\n1,2,3\n")
    loads.read_module(f, root)
    assert opened(root, root.root / "sen2" / f"{f.sha256}.csv.enc") == b"not,a,module\n1,2,3\n"


def test_two_threads_archiving_the_same_bytes_leave_one_copy(tmp_path):
    a = landed(tmp_path, "sen2", "a.csv", "same,bytes\n" * 2_000_000)
    b = landed(tmp_path, "sen2", "b.csv", "same,bytes\n" * 2_000_000)
    assert a.sha256 == b.sha256
    archive = archive_at(tmp_path)
    copy = archive.root / "sen2" / f"{a.sha256}.csv.enc"
    with ThreadPoolExecutor(max_workers=2) as pool:  # (.result() raises what a thread did)
        copies = [pool.submit(archive.keep, f.path, f.sha256, "sen2") for f in (a, b)]
        assert {c.result() for c in copies} == {copy}
    assert [p.name for p in (archive.root / "sen2").iterdir()] == [copy.name]
    assert opened(archive, copy) == a.path.read_bytes()
