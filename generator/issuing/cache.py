"""Render cache: a pack is rendered again only when one of its inputs changed.

In: everything a rendered document depends on: the format, the content (its
hash, which covers every YAML file as loaded), the PCN layout and theme (logo
bytes included), the values and PCN name written into it, every file under
``templates/`` and the generator's version. Out: a key (SHA-256, hex) and, for a
written file, a small key file beside it (``.NAME.render-key``) recording the
key it was rendered from. A build whose key matches the file on disk renders
nothing. The copy's instance id and creation time are not inputs: a blank pack
built again with nothing changed is the same pack.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from pathlib import Path
from typing import Any, Callable, Mapping

from generator import __version__
from generator.content.theme import TEMPLATES_DIR
from generator.files import write_atomic

#: Manifest entries that differ between two builds of the same pack.
VOLATILE = ("instance_id", "created")


def _canonical(value: Any) -> Any:
    """``value`` as JSON-ready data in one order: sets sorted, bytes by their hash, dataclasses as dicts."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: _canonical(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, Mapping):
        return {str(k): _canonical(v) for k, v in sorted(value.items(), key=lambda kv: str(kv[0]))}
    if isinstance(value, (set, frozenset)):
        return sorted(_canonical(v) for v in value)
    if isinstance(value, (list, tuple)):
        return [_canonical(v) for v in value]
    if isinstance(value, bytes):
        return "sha256:" + hashlib.sha256(value).hexdigest()
    if value is None or isinstance(value, (str, int, float, bool)):
        return value
    return str(value)


def templates_digest(folder: Path = TEMPLATES_DIR) -> str:
    """SHA-256 over every file under ``folder`` (names and bytes)."""
    digest = hashlib.sha256()
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        digest.update(path.relative_to(folder).as_posix().encode() + b"\0")
        digest.update(hashlib.sha256(path.read_bytes()).digest())
    return digest.hexdigest()


def render_key(fmt: str, manifest: Mapping[str, Any], layout: Any, theme: Any,
               values: Mapping[str, Any] | None, pcn: str, templates: str | None = None) -> str:
    """The key of one rendering: equal keys mean the renderer would write the same document."""
    inputs = {
        "format": fmt,
        "generator": __version__,
        "manifest": {k: v for k, v in manifest.items() if k not in VOLATILE},
        "layout": layout,
        "theme": theme,
        "values": values or {},
        "pcn": pcn,
        "templates": templates or templates_digest(),
    }
    text = json.dumps(_canonical(inputs), sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def key_file(path: Path) -> Path:
    return path.with_name(f".{path.name}.render-key")


def is_current(path: Path, key: str) -> bool:
    """Whether ``path`` exists and was rendered from ``key``."""
    try:
        return path.is_file() and key_file(path).read_text(encoding="ascii").strip() == key
    except (OSError, UnicodeDecodeError):
        return False


def remember(path: Path, key: str) -> None:
    """Record that ``path`` was just rendered from ``key``."""
    write_atomic(key_file(path), key.encode("ascii") + b"\n")


#: Folder, inside an issue's output folder, that keeps each PCN's rendered blank between runs.
ISSUE_CACHE_DIR = ".render-cache"


def cached_render(folder: Path | None, name: str, key: str, render: Callable[[], bytes]) -> tuple[bytes, bool]:
    """A rendering kept as ``folder/NAME-KEY`` (``name`` ends with the format): the kept bytes when that
    file exists, else ``render()`` written there, with the older renderings of ``name`` removed.
    Returns (bytes, whether they were reused). With no ``folder``, always renders."""
    if folder is None:
        return render(), False
    stem, _, ext = name.rpartition(".")
    path = folder / f"{stem}-{key[:32]}.{ext}"
    try:
        return path.read_bytes(), True
    except OSError:
        pass
    data = render()
    folder.mkdir(parents=True, exist_ok=True)
    write_atomic(path, data)
    for old in folder.glob(f"{stem}-*.{ext}"):
        if old != path and len(old.name) == len(path.name):
            old.unlink(missing_ok=True)
    return data, False
