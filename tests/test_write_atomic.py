"""``files.write_atomic``: a whole new file or none, and a device or pipe written into, never replaced."""

from __future__ import annotations

import os
import stat
import threading

import pytest

from generator.files import replaces_file, write_atomic
from tests.conftest import skip_or_fail


def test_a_file_is_replaced_whole_with_the_usual_mode_and_no_temporary_left(tmp_path):
    target = tmp_path / "out" / "records.csv"
    write_atomic(target, b"one")
    write_atomic(target, b"two")
    assert target.read_bytes() == b"two"
    umask = os.umask(0)
    os.umask(umask)
    assert stat.S_IMODE(target.stat().st_mode) == 0o666 & ~umask
    assert os.listdir(target.parent) == ["records.csv"]


def test_a_named_pipe_is_written_into_and_stays_a_pipe(tmp_path):
    pipe = tmp_path / "pipe"
    os.mkfifo(pipe)
    got = []
    reader = threading.Thread(target=lambda: got.append(pipe.read_bytes()), daemon=True)
    reader.start()
    write_atomic(pipe, b"records")
    reader.join(60)
    assert got == [b"records"]
    assert stat.S_ISFIFO(pipe.stat().st_mode) and os.listdir(tmp_path) == ["pipe"]


def test_a_character_device_is_written_into_and_stays_a_device(tmp_path):
    """As root, '-o /dev/null' replaced /dev/null with a plain file."""
    null = tmp_path / "null"
    try:
        os.mknod(null, stat.S_IFCHR | 0o666, os.makedev(1, 3))  # a second /dev/null, here
    except PermissionError:
        skip_or_fail("making a device needs root; the named pipe case covers the rule")
    write_atomic(null, b"anything")
    assert stat.S_ISCHR(null.stat().st_mode) and os.listdir(tmp_path) == ["null"]


def test_a_full_disk_is_a_write_error_saying_what_to_do_and_the_old_file_is_kept(tmp_path, monkeypatch):
    import errno

    from generator import files
    from generator.errors import WriteError
    target = tmp_path / "records.csv"
    target.write_bytes(b"old")
    real = os.replace

    def full(src, dst):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(files.os, "replace", full)
    with pytest.raises(WriteError) as raised:
        write_atomic(target, b"new")
    monkeypatch.setattr(files.os, "replace", real)
    caught = raised.value
    assert str(caught) == (f"{target}: cannot be written: the disk is full; nothing was written: free some space on "
                           "that disk (or use another one), then run the command again")
    assert caught.code == "E-WRITE" and caught.disk_full
    assert target.read_bytes() == b"old" and os.listdir(tmp_path) == ["records.csv"]  # no temporary left


def test_other_write_failures_name_the_reason_and_a_way_out(tmp_path, monkeypatch):
    import errno

    from generator import files
    from generator.errors import WriteError

    def refuse(src, dst):
        raise OSError(errno.EROFS, "Read-only file system")

    monkeypatch.setattr(files.os, "replace", refuse)
    with pytest.raises(WriteError) as raised:
        write_atomic(tmp_path / "a.pdf", b"x")
    caught = raised.value
    assert str(caught) == (f"{tmp_path / 'a.pdf'}: cannot be written: Read-only file system; nothing was written: "
                           "make the folder writable, or write to another folder")
    assert not caught.disk_full


def test_the_command_line_says_the_disk_is_full_in_one_line_not_a_traceback(tmp_path):
    """'/dev/full' answers every write with ENOSPC: a real full disk."""
    from click.testing import CliRunner

    from generator.cli.common import main
    if not os.path.exists("/dev/full"):
        skip_or_fail("/dev/full is Linux's; the monkeypatched cases cover the message")
    runner = CliRunner()
    assert runner.invoke(main, ["ingest", "--store", str(tmp_path / "r.sqlite"), "--register",
                                str(_register(tmp_path))]).exit_code == 0
    result = runner.invoke(main, ["export", "--store", str(tmp_path / "r.sqlite"), "-o", "/dev/full"])
    assert result.exit_code == 1
    assert result.output == ("Error: /dev/full: cannot be written: the disk is full; nothing was written: free some "
                             "space on that disk (or use another one), then run the command again\n")


def _register(folder):
    path = folder / "issued.csv"
    path.write_text("instance_id,learner,practice,pcn\n00000000-0000-4000-8000-000000000001,Ann Example,"
                    "Riverside Surgery,riverside-pcn\n", encoding="utf-8")
    return path


def test_only_a_file_or_a_link_to_one_is_a_file_writing_would_replace(tmp_path):
    kept = tmp_path / "kept.pdf"
    kept.write_bytes(b"kept")
    (tmp_path / "link.pdf").symlink_to(kept)
    (tmp_path / "dangling.pdf").symlink_to(tmp_path / "gone.pdf")
    os.mkfifo(tmp_path / "pipe")
    assert [replaces_file(tmp_path / name) for name in ("kept.pdf", "link.pdf", "dangling.pdf", "pipe", "new.pdf",
                                                        "kept.pdf/inside")] == [True, True, False, False, False, False]
    assert replaces_file(tmp_path) is False  # a folder is not a file either
