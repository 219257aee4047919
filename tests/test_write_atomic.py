"""``files.write_atomic``: a whole new file or none, and a device or pipe written into, never replaced."""

from __future__ import annotations

import os
import stat
import threading

from generator.files import write_atomic
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
