"""Read an untrusted returned file in a child process, within limits.

In: the path of a returned copy. Out: its ``Record``, or a ``ReadError`` saying
which limit it broke. The parse runs in a forked child with a memory cap
(address space), a CPU-time cap and a wall-clock timeout, so a parser that
crashes, hangs or blows up its memory costs one file, not the batch. The file's
size is checked before anything reads it. ``call_isolated`` and ``limit_memory``
are the mechanism; ingest's reader processes start with ``child_setup`` too.
"""

from __future__ import annotations

import multiprocessing
import os
import signal
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

from generator.errors import ReadError
from generator.reading.read import Record, read_bytes, too_large


@dataclass(frozen=True)
class Limits:
    max_bytes: int = 25_000_000  # a filled pack is well under 2 MB
    seconds: float = 20.0  # wall clock for one file
    memory: int = 768 * 1024 * 1024  # extra address space the child may use


DEFAULT_LIMITS = Limits()


def die_with_parent(parent: int | None = None) -> None:
    """Have the kernel kill this (child) process when its parent dies, however the parent dies
    (SIGKILL included), so no reader outlives an ingest that was stopped. Linux only; elsewhere
    a no-op. ``parent`` is the pid the child was forked from: if it is gone already, exit."""
    try:
        import ctypes
        libc = ctypes.CDLL(None, use_errno=True)
        PR_SET_PDEATHSIG = 1
        libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    except (OSError, AttributeError):
        return
    if parent is not None and os.getppid() != parent:  # the parent died before prctl took effect
        os._exit(1)


def child_setup(extra: int, parent: int | None = None) -> None:
    """What every reader process does first: die with its parent, cap its memory, and leave Ctrl-C
    to the parent (a terminal sends it to the whole process group; the parent stops its readers),
    and keep what it inherited out of its garbage collections: that is never its garbage, and every
    full collection walked all of it (about 1 ms a PDF copy in ingest's readers) and wrote to its pages,
    which a fork then copies."""
    import gc
    import signal
    die_with_parent(parent)
    limit_memory(extra)
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    gc.freeze()


def limit_memory(extra: int) -> None:
    """Cap this process's address space at what it uses now plus ``extra`` bytes, so that a
    decompression bomb ends in MemoryError. A no-op where the platform has no such limit."""
    try:
        import resource
        with open("/proc/self/statm") as handle:
            used = int(handle.read().split()[0]) * resource.getpagesize()
        resource.setrlimit(resource.RLIMIT_AS, (used + extra, used + extra))
    except (ImportError, OSError, ValueError):
        pass


@dataclass(frozen=True)
class Isolated:
    """How a call in a child process ended: 'ok' (with its value), 'raised' (with the
    exception's type name), 'timeout' or 'crash'."""

    status: str
    value: Any = None
    exitcode: int | None = None


def _child(fn: Callable[..., Any], args: tuple[Any, ...], limits: Limits, conn: Any, parent: int) -> None:
    try:
        child_setup(limits.memory, parent)
        import resource
        cpu = int(limits.seconds) + 1
        resource.setrlimit(resource.RLIMIT_CPU, (cpu, cpu + 1))
        try:
            result = ("ok", fn(*args))
        except Exception as exc:  # sent back as its type: the caller blames the one file
            result = ("raised", type(exc).__name__)
        conn.send(result)
    finally:
        conn.close()


def start_isolated(fn: Callable[..., Any], args: tuple[Any, ...], limits: Limits = DEFAULT_LIMITS
                   ) -> tuple[Any, Any]:
    """Start ``fn(*args)`` in a forked child within ``limits`` (memory, CPU time, dying with this
    process); returns (receiver, child) for ``collect_isolated`` once the receiver is ready
    or its time is up. Lets a caller keep several children running at once."""
    context = multiprocessing.get_context("fork")
    receiver, sender = context.Pipe(duplex=False)
    child = context.Process(target=_child, args=(fn, args, limits, sender, os.getpid()), daemon=True)
    child.start()
    sender.close()
    return receiver, child


def collect_isolated(receiver: Any, child: Any, timed_out: bool = False) -> Isolated:
    """How a child from ``start_isolated`` ended; kills it if it is still running."""
    try:
        if timed_out and not receiver.poll(0):
            return Isolated("timeout")
        status, value = receiver.recv()
        return Isolated(status, value)
    except EOFError:
        child.join(5)
        return Isolated("crash", exitcode=child.exitcode)
    finally:
        if child.is_alive():
            child.kill()
        child.join(5)
        receiver.close()


def call_isolated(fn: Callable[..., Any], args: tuple[Any, ...], limits: Limits = DEFAULT_LIMITS) -> Isolated:
    """Run ``fn(*args)`` in a forked child within ``limits``; its value must be picklable."""
    receiver, child = start_isolated(fn, args, limits)
    return collect_isolated(receiver, child, timed_out=not receiver.poll(limits.seconds))


def _read_path(path: str, memory: int) -> tuple[str, Any]:
    """In the child: ("ok", record) or ("error", (file, reason, code)); never raises."""
    name = Path(path).name
    try:
        return "ok", read_bytes(Path(path).read_bytes(), name)
    except ReadError as exc:
        return "error", (exc.file, exc.reason, exc.code)
    except MemoryError:
        return "error", (name, f"needs more than {memory // 2**20} MB to read; refused (a possible decompression bomb)",
                         "E-READ-LIMIT")
    except RecursionError:
        return "error", (name, "is nested too deeply to read (a cyclic or damaged structure); refused",
                         "E-READ-DAMAGED")
    except Exception as exc:  # any other parser failure is a damaged file, not a crash of the batch
        return "error", (name, f"could not be read ({type(exc).__name__}); it may be damaged", "E-READ-DAMAGED")


def _check_size(path: Path, limits: Limits) -> None:
    try:
        size = path.stat().st_size
    except OSError as exc:
        raise ReadError(path.name, f"cannot be opened ({exc.strerror})") from None
    if size > limits.max_bytes:
        raise ReadError(path.name, too_large(limits.max_bytes, size), "E-READ-LIMIT")


def _isolated(fn: Callable[..., Any], args: tuple[Any, ...], path: Path, limits: Limits, doing: str) -> Any:
    outcome = call_isolated(fn, args, limits)
    if outcome.status == "timeout":
        raise ReadError(path.name, f"took longer than {limits.seconds:g} s to {doing}; refused", "E-READ-LIMIT")
    if outcome.status == "crash":
        how = {-signal.SIGXCPU: "used too much CPU time", -signal.SIGKILL: "was stopped"}.get(
            outcome.exitcode, f"made the reader crash (exit {outcome.exitcode})")
        raise ReadError(path.name, f"{how} while being {'read' if doing == 'read' else 'filled'}; refused",
                        "E-READ-DAMAGED")
    if outcome.status == "raised":
        raise ReadError(path.name, f"could not be {'read' if doing == 'read' else 'filled'} ({outcome.value}); "
                                   "it may be damaged", "E-READ-DAMAGED")
    status, payload = outcome.value
    if status == "error":
        raise ReadError(*payload)
    if status == "fill_error":
        from generator.errors import FillError
        raise FillError(payload)
    return payload


def read_isolated(path: Path | str, limits: Limits = DEFAULT_LIMITS) -> Record:
    """Read one returned copy in a child process; ReadError for anything outside the limits."""
    path = Path(path)
    _check_size(path, limits)
    return _isolated(_read_path, (str(path), limits.memory), path, limits, "read")


def _fill_path(path: str, values: dict[str, Any], memory: int) -> tuple[str, Any]:
    """In the child: ("ok", (bytes, format)) or ("error", (file, reason)); never raises."""
    from generator.errors import PortfolioError
    from generator.formats.fill import fill_bytes
    name = Path(path).name
    try:
        return "ok", fill_bytes(Path(path).read_bytes(), values, name)
    except ReadError as exc:
        return "error", (exc.file, exc.reason, exc.code)
    except PortfolioError as exc:  # a value that does not fit: the message as the filler wrote it
        return "fill_error", str(exc)
    except MemoryError:
        return "error", (name, f"needs more than {memory // 2**20} MB to fill; refused (a possible decompression bomb)",
                         "E-READ-LIMIT")
    except RecursionError:
        return "error", (name, "is nested too deeply to fill (a cyclic or damaged structure); refused", "E-READ-DAMAGED")
    except Exception as exc:  # a damaged pack, not a crash of the command
        return "error", (name, f"could not be filled ({type(exc).__name__}); it may be damaged", "E-READ-DAMAGED")


def fill_isolated(path: Path | str, values: dict[str, Any], limits: Limits = DEFAULT_LIMITS) -> tuple[bytes, str]:
    """Fill a pack in a child process within the same limits as reading: (filled bytes, format)."""
    path = Path(path)
    _check_size(path, limits)
    return _isolated(_fill_path, (str(path), dict(values), limits.memory), path, limits, "fill")
