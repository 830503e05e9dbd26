"""Files are archived by their SHA-256 as soon as a prepare task starts on them, whatever
then becomes of them, and two threads archiving the same bytes leave one copy."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

from tests import handmade
from warehouse import loads
from warehouse.archive import archive, sha256_of


def landed(tmp_path, source, name, text):
    path = tmp_path / "landing" / source / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return loads.LandedFile(source, path, sha256_of(path))


def test_prepare_archives_the_file_before_reading_it_even_when_rejected(tmp_path):
    root = tmp_path / "archive"
    good = landed(tmp_path, "census", "census.csv",
                  "\n".join([handmade.CENSUS_HEADER, *handmade.census_rows()]) + "\n")
    bad = landed(tmp_path, "census", "notes.txt", "not a census\n")
    prepared = loads.prepare(good, b"k" * 32, root)
    rejected = loads.prepare(bad, b"k" * 32, root)
    assert prepared.rejection is None and rejected.rejection is not None
    for f in (good, bad):
        copy = root / "census" / f"{f.sha256}{f.path.suffix}"
        assert copy.read_bytes() == f.path.read_bytes()
        assert sha256_of(copy) == f.sha256


def test_a_sen2_module_is_archived_by_its_read_task(tmp_path):
    root = tmp_path / "archive"
    f = landed(tmp_path, "sen2", "Blade-Export_26-03-2026_sen2.csv", "not,a,module\n1,2,3\n")
    loads.read_module(f, root)
    assert (root / "sen2" / f"{f.sha256}.csv").read_text() == "not,a,module\n1,2,3\n"


def test_two_threads_archiving_the_same_bytes_leave_one_copy(tmp_path):
    a = landed(tmp_path, "sen2", "a.csv", "same,bytes\n" * 2_000_000)
    b = landed(tmp_path, "sen2", "b.csv", "same,bytes\n" * 2_000_000)
    assert a.sha256 == b.sha256
    root = tmp_path / "archive"
    with ThreadPoolExecutor(max_workers=2) as pool:  # (.result() raises what a thread did)
        copies = [pool.submit(archive, f.path, f.sha256, "sen2", root) for f in (a, b)]
        assert {c.result() for c in copies} == {root / "sen2" / f"{a.sha256}.csv"}
    assert [p.name for p in (root / "sen2").iterdir()] == [f"{a.sha256}.csv"]
    assert sha256_of(root / "sen2" / f"{a.sha256}.csv") == a.sha256
