"""Read a completed copy back into a record.

In: the bytes of a returned PDF or DOCX (whatever editor filled it).
Out: a ``Record``: the pack facts from the embedded manifest, every manifest
field's typed value (None when empty), the option positions of scale answers,
values the manifest does not know, and warnings. A file that is not ours, not a
form, encrypted or damaged raises ``ReadError`` naming the file and the reason.
The format readers only find raw values; typing happens here, once.
"""

from __future__ import annotations

import functools
import json
import re
import zipfile
import zlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable


from generator import DEFAULT_CONTENT_DIR
from generator.errors import ReadError
from generator.model.document import RawDocument, sniff
from generator.model.values import coerce
from generator.reading.identifiers import Flag, scan_record_values



#: A top-level ``key: value`` line of pack.yaml whose value YAML reads as the same string:
#: quoted without escapes, or plain and starting with a letter (so never a number, date,
#: boolean or null); an optional comment after it (after a space, as YAML wants).
_SIMPLE_LINE = re.compile(r"""^(id|version):[ \t]+(?:"([^"\\\n]*)"|'([^'\n]*)'|([A-Za-z][A-Za-z0-9_.-]*))(?:[ \t]+#.*)?[ \t]*$""",
                          re.MULTILINE)
_YAML_BOOLEANS = {"yes", "no", "true", "false", "on", "off"}


def _id_and_version(text: str) -> tuple[str, str] | None:
    """pack.yaml's ``id`` and ``version`` found without a YAML parser, or None when the file is not
    plain enough to be sure of them (then YAML decides). Saves loading PyYAML on every read."""
    text = text.removeprefix("\ufeff").replace("\r\n", "\n")
    if "\r" in text or text.lstrip(" \t\n")[:1] in ("{", "["):  # old Mac line ends, flow style
        return None
    if re.search(r"""^(?:---|\.\.\.|[%"'?])""", text, re.MULTILINE):  # markers, directives, quoted keys
        return None
    found: dict[str, str] = {}
    for match in _SIMPLE_LINE.finditer(text):
        key, value = match[1], next(v for v in match.groups()[1:] if v is not None)
        if key in found or (match[4] is not None and value.lower() in _YAML_BOOLEANS):
            return None
        found[key] = value
    if set(found) != {"id", "version"} or len(re.findall(r"^(?:id|version)\s*:", text, re.MULTILINE)) != 2:
        return None  # a key missing, repeated or written in a way the pattern does not cover
    return found["id"], found["version"]


@functools.cache
def known_content_versions() -> frozenset[tuple[str, str]]:
    """(pack id, version) of the content shipped with the tool; copies of any other content are read
    from the definitions embedded in them, with a warning saying so."""
    try:
        text = (DEFAULT_CONTENT_DIR / "pack.yaml").read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return frozenset()
    simple = _id_and_version(text)
    if simple is not None:
        return frozenset({simple})
    import yaml
    try:
        pack = yaml.safe_load(text)
    except yaml.YAMLError:
        return frozenset()
    if not isinstance(pack, dict):
        return frozenset()
    return frozenset({(str(pack.get("id")), str(pack.get("version")))})


@dataclass
class Record:
    pack: dict[str, Any]
    fields: dict[str, Any]
    positions: dict[str, int] = field(default_factory=dict)  # scale answers: 1-based option position
    unmapped: dict[str, Any] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)
    flags: list[Flag] = field(default_factory=list)  # likely patient identifiers: field and kind only
    missing: list[str] = field(default_factory=list)  # manifest fields the copy no longer has
    definitions: list[dict[str, Any]] = field(default_factory=list, repr=False)  # the manifest's fields

    def to_json(self) -> dict[str, Any]:
        return {"pack": self.pack, "fields": self.fields, "positions": self.positions, "unmapped": self.unmapped,
                "missing": self.missing, "flags": [f.to_json() for f in self.flags], "warnings": self.warnings}




def _reader(kind: str) -> Callable[[bytes, str], RawDocument]:
    """The format reader for a sniffed kind (imported on demand)."""
    if kind == "pdf":
        from generator.formats.pdf.read import read_pdf_raw
        return read_pdf_raw
    from generator.formats.docx.read import read_docx_raw
    return read_docx_raw




#: Why an empty file is refused (by ``read`` and ``ingest``, and by the web app's upload).
EMPTY = "file is empty (0 bytes): it was not saved or sent whole; ask for the copy again"
#: Why a file of another kind is refused by ``read`` (which reads no scans).
NOT_A_COPY = ("is not a PDF or Word (.docx) file: check that it is the filled copy itself (the .pdf or .docx "
              "file that was sent out), or ask for the copy again")
#: The same, by ``ingest`` and the web app's upload, which read scans too.
NOT_A_COPY_OR_SCAN = ("is not a PDF, Word (.docx) or scanned (PNG, JPEG, TIFF) file: check that it is the filled "
                      "copy itself or a scan of it, or ask for the copy again")


def too_large(limit: int, size: int | None = None) -> str:
    """Why a file over the size limit is refused (by ``read``, ``ingest`` and, not knowing the size, the web
    app's upload). The size is rounded up to 0.1 MB, so that a file just over the limit never reads as at it."""
    over = f"is over the limit of {limit / 1e6:g} MB" if size is None else \
        f"is {-(-size // 100_000) / 10:.1f} MB; the limit is {limit / 1e6:g} MB"
    return (f"{over}: a filled copy is under 2 MB, so check that this is the copy itself; a scan of many pages: "
            "split it into smaller files, or scan at 200-300 dpi")


def read_bytes(data: bytes, name: str) -> Record:
    """Read a returned copy given as bytes; ``name`` is used in messages."""
    if not data:
        raise ReadError(name, EMPTY)
    kind = sniff(data)
    if kind is None:
        from generator.reading.scan import sniff_image
        if image := sniff_image(data):
            raise ReadError(name, f"is a scanned image ({image.upper()}): scans are read by "
                                  "'portfolio ingest FILE --store STORE', against the store's record of the "
                                  "issued copies")
        raise ReadError(name, NOT_A_COPY)
    try:
        raw = _reader(kind)(data, name)
    except ReadError:
        raise
    except (zipfile.BadZipFile, zlib.error, NotImplementedError, EOFError, KeyError) as exc:
        # a damaged zip shows itself only when a part is read: bad CRC, bad header, odd method
        if kind != "zip":
            raise ReadError.damaged(name, "is damaged and cannot be read as a PDF") from exc
        raise ReadError.damaged(name, "is damaged or truncated and cannot be read as a Word file") from exc
    except (ValueError, TypeError, AttributeError, IndexError, RecursionError) as exc:
        # a structure no editor writes (e.g. an appearance dictionary that is not one)
        what = "a PDF" if kind == "pdf" else "a Word file"
        raise ReadError.damaged(name, f"is damaged and cannot be read as {what}") from exc
    return make_record(raw, name)


def read_file(path: Path | str) -> Record:
    path = Path(path)
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise ReadError(path.name, f"cannot be opened ({exc.strerror})") from None
    return read_bytes(data, path.name)


def make_record(raw: RawDocument, name: str) -> Record:
    manifest = raw.manifest  # checked by the format reader (``check_manifest``), which needed its fields
    warnings = list(raw.warnings)
    content = manifest.get("content", {})
    if (manifest.get("pack_id"), content.get("version")) not in known_content_versions():
        warnings.append(f"content version {content.get('version')!r} of pack {manifest.get('pack_id')!r} "
                        "is not known to this version of the tool; read from the definitions embedded in the copy")
    fields: dict[str, Any] = {}
    positions: dict[str, int] = {}
    for definition in manifest["fields"]:
        fid = definition["id"]
        value, warning = coerce(definition, raw.values.get(fid))
        fields[fid] = value
        if warning:
            warnings.append(f"{fid}: {warning}")
        options = [o["value"] for o in definition.get("options", ())]
        if definition["kind"] == "choice" and value is not None and len(options) == 5:
            positions[fid] = options.index(value) + 1
    for fid in raw.unmapped:
        warnings.append(f"{fid}: not in the pack's field definitions; kept under 'unmapped'")
    pack = {
        "pack_id": manifest.get("pack_id"),
        "part": manifest.get("part") or "pack",  # "patient_feedback" for a form issued on its own
        "instance_id": manifest.get("instance_id"),
        "content_id": content.get("id"),
        "content_version": content.get("version"),
        "content_hash": content.get("hash"),
        "generator_version": manifest.get("generator", {}).get("version"),
        "personalised": manifest.get("personalised", True),
        "learner": manifest.get("learner") or {},
        "pcn": manifest.get("pcn") or {},
        "format": raw.format,
        "editor": raw.editor,
    }
    flags = scan_record_values(manifest["fields"], fields, raw.unmapped, raw=raw.values)
    missing = [d["id"] for d in manifest["fields"] if d["id"] not in raw.values]
    return Record(pack, fields, positions, dict(raw.unmapped), warnings, flags, missing, manifest["fields"])


def dumps(record: Record) -> str:
    return json.dumps(record.to_json(), ensure_ascii=False, indent=1)
