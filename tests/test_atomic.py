"""Files and folders appear complete or not at all."""

from __future__ import annotations

import os
import stat

import pytest

from tuner.atomic import staged_dir, umask, write_text_atomic


def test_a_staged_folder_appears_whole_with_the_usual_modes(tmp_path):
    out = tmp_path / "deep" / "out"
    with staged_dir(out) as tmp:
        (tmp / "sub").mkdir()
        (tmp / "sub" / "a.txt").write_text("a")
        assert not out.exists()
    assert (out / "sub" / "a.txt").read_text() == "a"
    assert stat.S_IMODE(os.stat(out).st_mode) == 0o777 & ~umask()
    assert stat.S_IMODE(os.stat(out / "sub" / "a.txt").st_mode) == 0o666 & ~umask()
    assert sorted(p.name for p in out.parent.iterdir()) == ["out"]


def test_a_failed_block_leaves_the_old_folder_and_no_temporary_one(tmp_path):
    out = tmp_path / "out"
    with staged_dir(out) as tmp:
        (tmp / "v1").write_text("1")
    with pytest.raises(RuntimeError), staged_dir(out) as tmp:
        (tmp / "v2").write_text("2")
        raise RuntimeError("killed mid-export")
    assert [p.name for p in out.iterdir()] == ["v1"]
    assert [p.name for p in tmp_path.iterdir()] == ["out"]
    with staged_dir(out) as tmp:
        (tmp / "v3").write_text("3")
    assert [p.name for p in out.iterdir()] == ["v3"]  # replaced whole, not merged
    assert [p.name for p in tmp_path.iterdir()] == ["out"]


def test_write_text_atomic_replaces_and_leaves_no_temporary_file(tmp_path):
    path = tmp_path / "f.json"
    write_text_atomic(path, "one")
    write_text_atomic(path, "two")
    assert path.read_text() == "two"
    assert [p.name for p in tmp_path.iterdir()] == ["f.json"]
