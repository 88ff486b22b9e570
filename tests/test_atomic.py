"""Files and folders appear complete or not at all."""

from __future__ import annotations

import os
import signal
import socket
import stat
import subprocess
import sys

import pytest

from tuner.atomic import remove_stale, staged_dir, umask, write_text_atomic


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


def _dead_pid() -> int:
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid


def test_a_staging_folder_is_named_for_its_target_host_and_pid(tmp_path):
    out = tmp_path / "out"
    with staged_dir(out) as tmp:
        assert tmp.name.startswith(f".out.staging-{socket.gethostname()}-{os.getpid()}-")


def test_stale_folders_of_dead_owners_go_and_nothing_else(tmp_path):
    host, dead, alive = socket.gethostname(), _dead_pid(), os.getppid()
    names = {
        f".out.staging-{host}-{dead}-abc": False,  # a killed conversion's: removed
        f".out.old-{host}-{dead}-abc": False,  # a killed replace's old copy, out exists
        f".out.staging-{host}-{alive}-abc": True,  # a live process is still filling it
        f".out.staging-{host}-{os.getpid()}-abc": True,  # ours
        f".out.staging-otherhost-{dead}-abc": True,  # another host's pid means nothing here
        f".other.staging-{host}-{dead}-abc": True,  # another target's
        ".out-abc": True,  # not ours (the old unowned naming): never guessed at
    }
    for name in names:
        (tmp_path / name).mkdir()
        (tmp_path / name / "file").write_text("x")
    with staged_dir(tmp_path / "out") as tmp:
        (tmp / "v").write_text("1")
    kept = {n for n in names if (tmp_path / n).exists()}
    assert kept == {n for n, keep in names.items() if keep}
    assert (tmp_path / "out" / "v").read_text() == "1"


def test_a_replace_killed_between_its_renames_gets_the_old_folder_back(tmp_path):
    old = tmp_path / f".out.old-{socket.gethostname()}-{_dead_pid()}-abc"
    old.mkdir()
    (old / "v").write_text("the published one")
    assert remove_stale(tmp_path / "out") == [old]
    assert (tmp_path / "out" / "v").read_text() == "the published one"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]


KILLED_MID_STAGING = """
import os, signal, sys
from tuner.atomic import staged_dir
with staged_dir(sys.argv[1]) as tmp:
    (tmp / "half").write_text("half written")
    os.kill(os.getpid(), signal.SIGKILL)
"""


def test_a_sigkilled_writer_leaves_a_folder_that_the_next_staging_removes(tmp_path):
    out = tmp_path / "out"
    killed = subprocess.run([sys.executable, "-c", KILLED_MID_STAGING, str(out)], timeout=60)
    assert killed.returncode == -signal.SIGKILL
    assert [p.name.startswith(".out.staging-") for p in tmp_path.iterdir()] == [True]
    with staged_dir(out) as tmp:
        (tmp / "whole").write_text("1")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]
    assert [p.name for p in out.iterdir()] == ["whole"]
