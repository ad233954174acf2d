"""The hash-chained log: appends read only its tail, and the chain holds across long lines."""

from __future__ import annotations

import hashlib
import io
import json
from pathlib import Path

import archive.store.chain as chain
from archive.store.chain import ChainedLog


def test_each_entry_names_the_hash_of_the_line_before(tmp_path: Path) -> None:
    log = tmp_path / "log.jsonl"
    long_note = "x" * 200_000  # longer than the block the tail is read in
    heads = [ChainedLog(log).append({"n": n, "note": long_note if n == 1 else ""})
             for n in range(4)]
    lines = log.read_bytes().splitlines()
    assert [hashlib.sha256(line).hexdigest() for line in lines] == heads
    assert [json.loads(line)["previous"] for line in lines] == [chain.GENESIS, *heads[:-1]]
    assert ChainedLog(log).check() == ([], heads[-1])


def test_the_last_line_is_found_from_the_end() -> None:
    assert chain._last_line(io.BytesIO(b"")) == b""
    assert chain._last_line(io.BytesIO(b'{"a":1}\n')) == b'{"a":1}'
    data = b'{"a":1}\n' + b'{"b":"' + b"y" * 100 + b'"}\n'
    assert chain._last_line(io.BytesIO(data), block=16) == b'{"b":"' + b"y" * 100 + b'"}'
