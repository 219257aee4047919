"""Read an untrusted returned file in a child process, within limits.

In: the path of a returned copy. Out: its ``Record``, or a ``ReadError`` saying
which limit it broke. The parse runs in a forked child with a memory cap
(address space), a CPU-time cap and a wall-clock timeout, so a parser that
crashes, hangs or blows up its memory costs one file, not the batch. The file's
size is checked before anything reads it. ``call_isolated`` and ``limit_memory``
are the mechanism; ingest uses them for its own reader processes too.
"""

from __future__ import annotations

import multiprocessing
import signal
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

from generator.errors import ReadError
from generator.reading.read import Record, read_bytes


@dataclass(frozen=True)
class Limits:
    max_bytes: int = 25_000_000  # a filled pack is well under 2 MB
    seconds: float = 20.0  # wall clock for one file
    memory: int = 768 * 1024 * 1024  # extra address space the child may use


DEFAULT_LIMITS = Limits()


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
    """How a call in a child process ended: 'ok' (with its value), 'timeout' or 'crash'."""

    status: str
    value: Any = None
    exitcode: int | None = None


def _child(fn: Callable[..., Any], args: tuple[Any, ...], limits: Limits, conn: Any) -> None:
    try:
        limit_memory(limits.memory)
        import resource
        cpu = int(limits.seconds) + 1
        resource.setrlimit(resource.RLIMIT_CPU, (cpu, cpu + 1))
        conn.send(fn(*args))
    finally:
        conn.close()


def call_isolated(fn: Callable[..., Any], args: tuple[Any, ...], limits: Limits = DEFAULT_LIMITS) -> Isolated:
    """Run ``fn(*args)`` in a forked child within ``limits``; its value must be picklable."""
    context = multiprocessing.get_context("fork")
    receiver, sender = context.Pipe(duplex=False)
    child = context.Process(target=_child, args=(fn, args, limits, sender), daemon=True)
    child.start()
    sender.close()
    try:
        if not receiver.poll(limits.seconds):
            return Isolated("timeout")
        return Isolated("ok", receiver.recv())
    except EOFError:
        child.join(5)
        return Isolated("crash", exitcode=child.exitcode)
    finally:
        if child.is_alive():
            child.kill()
        child.join(5)
        receiver.close()


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


def read_isolated(path: Path | str, limits: Limits = DEFAULT_LIMITS) -> Record:
    """Read one returned copy in a child process; ReadError for anything outside the limits."""
    path = Path(path)
    try:
        size = path.stat().st_size
    except OSError as exc:
        raise ReadError(path.name, f"cannot be opened ({exc.strerror})") from None
    if size > limits.max_bytes:
        raise ReadError(path.name, f"is {size / 1e6:.0f} MB; the limit is {limits.max_bytes / 1e6:.0f} MB "
                                   "(a filled portfolio is under 2 MB)", "E-READ-LIMIT")
    outcome = call_isolated(_read_path, (str(path), limits.memory), limits)
    if outcome.status == "timeout":
        raise ReadError(path.name, f"took longer than {limits.seconds:g} s to read; refused", "E-READ-LIMIT")
    if outcome.status == "crash":
        how = {-signal.SIGXCPU: "used too much CPU time", -signal.SIGKILL: "was stopped"}.get(
            outcome.exitcode, f"made the reader crash (exit {outcome.exitcode})")
        raise ReadError(path.name, f"{how} while being read; refused", "E-READ-DAMAGED")
    status, payload = outcome.value
    if status == "error":
        raise ReadError(*payload)
    return payload
