"""The archive's file format (warehouse/sealed.py): sealed chunk by chunk, every length
reads back exactly, and any change to the bytes (one flipped, chunks cut, swapped or added,
the header edited) fails with a message saying which chunk, before any of its plaintext is
given out. The archive's use of it: tests/test_archive_encryption.py."""

from __future__ import annotations

import io
import os

import pytest

from warehouse.sealed import HEADER_BYTES, TAG, SealError, key_check, seal, unseal

KEY = bytes(range(32))
CHUNK = 64  # small chunks, so that a few hundred bytes make several


def sealed(data: bytes, key: bytes = KEY) -> bytes:
    out = io.BytesIO()
    seal(io.BytesIO(data), out, key, chunk=CHUNK)
    return out.getvalue()


def opened(data: bytes, key: bytes = KEY) -> bytes:
    return b"".join(bytes(block) for block in unseal(io.BytesIO(data), key))


@pytest.mark.parametrize("size", [0, 1, CHUNK - 1, CHUNK, CHUNK + 1, 3 * CHUNK, 3 * CHUNK + 7])
def test_every_length_reads_back_exactly(size):
    data = os.urandom(size)
    box = sealed(data)
    chunks = max(1, -(-size // CHUNK))  # a whole last chunk is the last: no empty one after
    assert len(box) == HEADER_BYTES + size + chunks * TAG
    assert opened(box) == data


def test_two_sealings_of_the_same_bytes_differ_and_keep_a_check_not_the_key():
    data = b"UPN,Surname\nA123456789012,Smith\n" * 10
    one, two = sealed(data), sealed(data)
    assert one != two  # a random nonce prefix a file
    assert one[18:26] == two[18:26] == key_check(KEY) and KEY not in one
    assert b"Smith" not in one


def _flip(i: int):
    return lambda b: b[:i] + bytes([b[i] ^ 0x80]) + b[i + 1:]


SEALED = HEADER_BYTES + CHUNK + TAG  # bytes of a sealed whole chunk


@pytest.mark.parametrize(("change", "message"), [
    (_flip(HEADER_BYTES + 3), "is damaged or altered: chunk 0 fails authentication"),
    (_flip(SEALED + 70),
     "is damaged or altered: chunk 1 fails authentication"),
    (lambda b: b[:-1], "is damaged, altered or truncated: chunk 3, its last as it stands, "
                       "fails authentication"),
    (lambda b: b[:HEADER_BYTES + 2 * (CHUNK + TAG)],
     "is damaged, altered or truncated: chunk 1, its last as it stands, fails "
     "authentication"),
    (lambda b: b[:HEADER_BYTES], "is truncated: chunk 0 is cut short"),
    (lambda b: b + b"\x00" * (CHUNK + TAG),
     "is damaged or altered: chunk 3 fails authentication"),
    (lambda b: b[:HEADER_BYTES] + b[SEALED:SEALED + CHUNK + TAG] + b[HEADER_BYTES:SEALED]
     + b[SEALED + CHUNK + TAG:], "is damaged or altered: chunk 0 fails authentication"),
    (_flip(12), "is damaged or altered: chunk 0 fails authentication"),  # the nonce prefix
    (_flip(6), "is damaged (its header gives an impossible chunk size)"),
    (_flip(0), "is not a sealed archive file (its header is missing or damaged)"),
    (_flip(20), "was sealed with another archive key: SENDBOARD_ARCHIVE_KEY is not the key "
                "the archive was written with"),
])
def test_any_change_fails_with_a_message_before_its_plaintext_is_given(change, message):
    data = os.urandom(3 * CHUNK + 10)  # four chunks, the last short
    box = change(sealed(data))
    given: list[bytes] = []
    with pytest.raises(SealError) as e:
        for block in unseal(io.BytesIO(box), KEY):
            given.append(bytes(block))
    assert str(e.value) == message
    # What came out before the failure is whole chunks of the file, none of the bad one.
    assert data.startswith(b"".join(given)) and len(b"".join(given)) % CHUNK == 0


def test_a_wrong_key_gives_nothing():
    box = sealed(b"secret" * 100)
    with pytest.raises(SealError, match="another archive key"):
        opened(box, bytes(32))
