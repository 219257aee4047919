"""Read an untrusted returned file in a child process, within limits.

In: the path of a returned copy. Out: its ``Record``, or a ``ReadError`` saying
which limit it broke. The parse runs in a forked child with a memory cap
(address space), a CPU-time cap and a wall-clock timeout, so a parser that
crashes, hangs or blows up its memory costs one file, not the batch. The file's
size is checked before anything reads it.
"""

from __future__ import annotations

import multiprocessing
import os
import resource
import signal
from dataclasses import dataclass
from pathlib import Path

from .errors import ReadError
from .read import Record, read_bytes


@dataclass(frozen=True)
class Limits:
    max_bytes: int = 25_000_000  # a filled pack is well under 2 MB
    seconds: float = 20.0  # wall clock for one file
    memory: int = 768 * 1024 * 1024  # extra address space the child may use


DEFAULT_LIMITS = Limits()


def _address_space() -> int:
    with open("/proc/self/statm") as handle:
        return int(handle.read().split()[0]) * resource.getpagesize()


def _child(path: str, limits: Limits, conn) -> None:
    try:
        resource.setrlimit(resource.RLIMIT_AS, (_address_space() + limits.memory,) * 2)
        cpu = int(limits.seconds) + 1
        resource.setrlimit(resource.RLIMIT_CPU, (cpu, cpu + 1))
        data = Path(path).read_bytes()
        conn.send(("ok", read_bytes(data, Path(path).name)))
    except ReadError as exc:
        conn.send(("error", (exc.file, exc.reason)))
    except MemoryError:
        conn.send(("error", (Path(path).name, f"needs more than {limits.memory // 2**20} MB to read; refused "
                                               "(a possible decompression bomb)")))
    except RecursionError:
        conn.send(("error", (Path(path).name, "is nested too deeply to read (a cyclic or damaged structure); refused")))
    except Exception as exc:  # any other parser failure is a damaged file, not a crash of the batch
        conn.send(("error", (Path(path).name, f"could not be read ({type(exc).__name__}); it may be damaged")))
    finally:
        conn.close()


def read_isolated(path: Path | str, limits: Limits = DEFAULT_LIMITS) -> Record:
    """Read one returned copy in a child process; ReadError for anything outside the limits."""
    path = Path(path)
    try:
        size = path.stat().st_size
    except OSError as exc:
        raise ReadError(path.name, f"cannot be opened ({exc.strerror})") from None
    if size > limits.max_bytes:
        raise ReadError(path.name, f"is {size / 1e6:.0f} MB; the limit is {limits.max_bytes / 1e6:.0f} MB "
                                   "(a filled portfolio is under 2 MB)")
    context = multiprocessing.get_context("fork")
    receiver, sender = context.Pipe(duplex=False)
    child = context.Process(target=_child, args=(str(path), limits, sender), daemon=True)
    child.start()
    sender.close()
    try:
        if not receiver.poll(limits.seconds):
            raise ReadError(path.name, f"took longer than {limits.seconds:g} s to read; refused")
        status, payload = receiver.recv()
    except EOFError:
        child.join(1)
        code = child.exitcode
        how = {-signal.SIGXCPU: "used too much CPU time", -signal.SIGKILL: "was stopped"}.get(
            code, f"made the reader crash (exit {code})")
        raise ReadError(path.name, f"{how} while being read; refused") from None
    finally:
        if child.is_alive():
            child.kill()
        child.join(5)
        receiver.close()
    if status == "error":
        raise ReadError(*payload)
    return payload
