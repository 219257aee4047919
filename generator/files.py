"""Writing files: atomically (readers never see half of one), and CSV cells that no spreadsheet
runs as a formula (``csv_cell``, the one escaping function every CSV writer uses)."""

from __future__ import annotations

import csv
import io
import os
import stat
import re
import tempfile
import unicodedata
from pathlib import Path
from typing import Any, Iterable

from generator.errors import WriteError


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


_UMASK = _umask()


def write_atomic(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` so that readers never see half a file. A path that is not a
    regular file (``/dev/null``, ``/dev/stdout``, a named pipe) is written into as it is: renaming a
    new file over it would replace the device itself (as root, /dev/null became a plain file).
    ``WriteError`` (saying what to do) when it cannot be written: a full disk, no permission."""
    try:
        _write_atomic(path, data)
    except OSError as exc:
        raise WriteError.from_os(path, exc) from exc


def _mode(path: Path) -> int | None:
    """``path``'s file type and mode, links followed (None: nothing there)."""
    try:
        return os.stat(path).st_mode
    except (FileNotFoundError, NotADirectoryError):
        return None


def replaces_file(path: Path) -> bool:
    """Whether ``write_atomic(path, ...)`` would replace a file that is there (a regular file, or a link
    to one), as opposed to making a new one or writing into a device such as /dev/stdout."""
    mode = _mode(path)
    return mode is not None and stat.S_ISREG(mode)


def _write_atomic(path: Path, data: bytes) -> None:
    mode = _mode(path)
    if mode is not None and not stat.S_ISREG(mode) and not stat.S_ISDIR(mode):
        with open(path, "wb") as handle:
            handle.write(data)
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
        os.chmod(tmp, 0o666 & ~_UMASK)  # mkstemp makes 0600; a written file gets the usual mode
        os.replace(tmp, path)
    except BaseException:
        os.unlink(tmp)
        raise



# ---------------------------------------------------------------- CSV

#: What a spreadsheet runs as a formula when a cell starts with it (OWASP, "CSV injection").
_FORMULA_START = ("=", "+", "-", "@")
_CONTROL_START = ("\t", "\r")
_PLAIN_NUMBER = re.compile(r"[+-]?(?:\d+(?:[.,]\d+)*|\.\d+)(?:[eE][+-]?\d+)?")


def _formula_like(text: str) -> bool:
    if text.startswith(_CONTROL_START):
        return True
    # What a spreadsheet sees: full-width signs (＝, ＋) fold to ASCII under NFKC, and
    # leading white space (and invisible format characters) is skipped before a formula.
    folded = unicodedata.normalize("NFKC", text)
    start = 0
    while start < len(folded) and (folded[start].isspace() or unicodedata.category(folded[start]) == "Cf"):
        start += 1
    if start < len(folded) and folded[start] in "\t\r":
        return True
    rest = folded[start:]
    return rest.startswith(_FORMULA_START) and not _PLAIN_NUMBER.fullmatch(rest)


def _needs_prefix(text: str) -> bool:
    # Apostrophes the text starts with are looked through, so that a learner's own leading
    # apostrophe before a formula gets one more and ``csv_value`` gives back exactly the text.
    return _formula_like(text.lstrip("'"))


def csv_cell(value: Any) -> str:
    """Every CSV cell the tool writes: empty for None, true/false for ticks, and text that a
    spreadsheet would run as a formula prefixed with ``'`` (OWASP's rule, applied after
    Unicode NFKC and leading white space; plain numbers such as ``-3`` are left alone)."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    text = str(value)
    return "'" + text if _needs_prefix(text) else text


def csv_value(cell: str) -> str:
    """The text ``csv_cell`` was given, for reading back a CSV file the tool wrote."""
    return cell[1:] if cell.startswith("'") and _needs_prefix(cell[1:]) else cell


def csv_text(rows: Iterable[Iterable[Any]], lineterminator: str = "\n") -> str:
    """CSV text of ``rows`` (the header row included), every cell through ``csv_cell``; a cell holding
    a line break of any kind (CR or LF) is quoted, whichever ``lineterminator`` the rows end with."""
    out = io.StringIO()
    line = io.StringIO()
    # The csv module quotes a cell for the characters of its own line terminator only: with "\n", a
    # lone "\r" went out bare and split the row for every reader. It decides with "\r\n" here.
    writer = csv.writer(line, lineterminator="\r\n")
    for row in rows:
        line.seek(0)
        line.truncate()
        writer.writerow([csv_cell(cell) for cell in row])
        out.write(line.getvalue()[:-2] + lineterminator)
    return out.getvalue()
