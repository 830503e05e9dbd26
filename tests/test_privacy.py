"""UPN validation matches python-stdnum; pseudonyms are a keyed HMAC-SHA256."""

from __future__ import annotations

import hashlib
import hmac
import random

import polars as pl
from stdnum.gb import upn as stdnum_upn

from transforms.privacy import PSEUDONYM_CHARS, pseudonymise
from values.upn import ALPHABET, upn_is_valid, valid_la_numbers


def check(values: list[str | None]) -> list[bool]:
    return pl.DataFrame({"u": values}, schema={"u": pl.Utf8}).select(
        upn_is_valid("u"))["u"].to_list()


def test_domain_examples():
    assert check(["B801200005001", "P207000016049", "A801200005001", "Q207000016049",
                  None, "", "B80120000500"]) == [True, True, False, False, False, False, False]
    # Either case; a value of another length, or with a two-byte character, is not a UPN
    # (the numpy check reads every value as exactly 13 bytes).
    assert check(["b801200005001", "B8012000050011", "É80120000500", "B80120000500É"]) == [
        True, False, False, False]


def test_agrees_with_stdnum_on_random_and_corrupted_upns():
    rng = random.Random(1)
    values = []
    for _ in range(3000):
        la = rng.choice(valid_la_numbers()) if rng.random() < 0.8 else str(rng.randint(100, 999))
        body = f"{la}{rng.randint(0, 9999):04d}{rng.randint(0, 99):02d}"
        body += f"{rng.randint(0, 999):03d}" if rng.random() < 0.8 else (
            f"{rng.randint(0, 99):02d}{rng.choice(ALPHABET[:23])}")
        upn = stdnum_upn.calc_check_digit(body) + body
        kind = rng.random()
        if kind < 0.3:  # a wrong check letter
            upn = rng.choice([c for c in ALPHABET[:23] if c != upn[0]]) + upn[1:]
        elif kind < 0.4:  # a typo in the digits
            i = rng.randint(1, 11)
            upn = upn[:i] + str((int(upn[i]) + 1) % 10) + upn[i + 1:]
        values.append(upn)
    assert check(values) == [stdnum_upn.is_valid(v) for v in values]
    assert 0.4 < sum(check(values)) / len(values) < 0.7  # both outcomes well exercised


def test_pseudonym_is_hmac_sha256_of_the_normalised_upn():
    key = b"k" * 32
    frame = pl.DataFrame({"upn": ["b801200005001", " B801200005001 ", None], "n": [1, 2, 3]})
    out = pseudonymise(frame, {"upn": "pupil_id"}, key)
    expected = hmac.new(key, b"B801200005001", hashlib.sha256).hexdigest()[:PSEUDONYM_CHARS]
    assert out.columns == ["n", "pupil_id"]
    assert out["pupil_id"].to_list() == [expected, expected, None]
    # Already upper-case and unpadded, the values are hashed as they are: the same pseudonyms.
    clean = pseudonymise(pl.DataFrame({"upn": ["B801200005001", None]}), {"upn": "pupil_id"},
                         key)
    assert clean["pupil_id"].to_list() == [expected, None]


def test_a_different_key_gives_unlinkable_pseudonyms():
    frame = pl.DataFrame({"upn": ["B801200005001"]})
    a = pseudonymise(frame, {"upn": "id"}, b"a" * 32)["id"][0]
    b = pseudonymise(frame, {"upn": "id"}, b"b" * 32)["id"][0]
    assert a != b and len(a) == len(b) == 32


def test_a_long_key_is_hashed_first_as_hmac_requires():
    key = b"x" * 100
    out = pseudonymise(pl.DataFrame({"u": ["ABC"]}), {"u": "id"}, key)["id"][0]
    assert out == hmac.new(key, b"ABC", hashlib.sha256).hexdigest()[:32]
