"""Files are replaced whole or not at all."""

import os

import pytest

from gankit.files import write_atomically


def test_a_file_is_written_and_replaced_whole(tmp_path) -> None:
    path = tmp_path / "summary.json"
    write_atomically(path, "first\n")
    write_atomically(path, b"second\n")
    assert path.read_text() == "second\n"
    assert [p.name for p in tmp_path.iterdir()] == ["summary.json"]  # no temporary file left


def test_a_write_that_fails_leaves_the_old_file_and_no_trace(tmp_path, monkeypatch) -> None:
    path = tmp_path / "model.safetensors"
    write_atomically(path, b"the weights of a long run")

    def full_disk(*args: object) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "fsync", full_disk)
    with pytest.raises(OSError, match="No space left"):
        write_atomically(path, b"half of the new wei")
    assert path.read_bytes() == b"the weights of a long run"
    assert [p.name for p in tmp_path.iterdir()] == ["model.safetensors"]
