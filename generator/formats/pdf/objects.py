"""Bounded access to an untrusted PDF's objects with pikepdf (qpdf's C++ parser), for reading.

In: the bytes of a returned PDF. Out: an opened ``pikepdf.Pdf`` (refused when
encrypted or damaged beyond repair), the embedded manifest (decoded within a
size limit, checked), the terminal form fields by fully qualified name, a
field's widgets, a widget's on-state, inherited attributes, and text strings
decoded the way editors really write them.

Every walk of the object graph here keeps a set of the objects it has visited
and a depth bound, so a damaged or hostile file (a /Parent chain or /Kids tree
that loops, a name tree that contains itself) is refused in milliseconds instead
of looping until the reader's time limit. qpdf resolves objects lazily: only
the catalog, the form fields, their widgets and the manifest are ever parsed,
never the pages' content.

The writers' side (``fill``, ``stamp``) still uses pypdf through ``access``.
"""

from __future__ import annotations

import io
import json
import os
import zlib
from typing import Any, Iterator

import pikepdf
from pikepdf import Array, Dictionary, Name, Stream, String

from generator.errors import ReadError
from generator.model.document import check_manifest
from generator.model.manifest import PDF_ATTACHMENT_NAME

#: A manifest (JSON field definitions) is about 60 kB; refuse anything that unpacks beyond this.
MANIFEST_MAX_BYTES = 10_000_000
#: How deep a field tree or name tree may nest, and how long a /Parent chain may be.
MAX_DEPTH = 16
#: How many field-tree (or name-tree) nodes one file may have: the default pack has about 700.
MAX_NODES = 20_000


class LimitReached(Exception):
    """The file goes beyond a reading limit (a decompression bomb, too many objects)."""


class Damaged(Exception):
    """A structure no editor writes: a loop, nesting too deep, the wrong kind of object."""


def _opened(data: bytes) -> pikepdf.Pdf:
    """``data`` opened by qpdf from a file in memory where the system has them (Linux's memfd),
    else from a Python stream. qpdf reads a real file in C++; a Python stream costs a call back
    into Python for every small read, which doubled the time of reading a returned copy's form."""
    try:
        fd = os.memfd_create("returned-copy", os.MFD_CLOEXEC)
    except (AttributeError, OSError):  # not Linux, or no memfd in this sandbox
        fd = None
    if fd is None or not os.path.isdir("/proc/self/fd"):
        if fd is not None:
            os.close(fd)
        return pikepdf.open(io.BytesIO(data), inherit_page_attributes=False)
    try:
        with os.fdopen(os.dup(fd), "wb") as handle:
            handle.write(data)
        return pikepdf.open(f"/proc/self/fd/{fd}", inherit_page_attributes=False)
    finally:
        os.close(fd)  # qpdf holds its own descriptor of the file until the Pdf is closed


def open_pdf(data: bytes, name: str) -> pikepdf.Pdf:
    """The PDF opened with qpdf (which repairs what it can); ReadError when it is encrypted or unreadable."""
    try:
        pdf = _opened(data)
    except pikepdf.PasswordError:
        raise ReadError(name, "is encrypted; return an unprotected copy (remove the password before sending)") from None
    except Exception:  # qpdf could not even reconstruct a cross-reference table
        raise ReadError.damaged(name, "is damaged or truncated and cannot be read as a PDF") from None
    if pdf.is_encrypted:  # an owner password only: readable, but not a copy we issued
        raise ReadError(name, "is encrypted; return an unprotected copy (remove the password before sending)")
    try:
        root = pdf.trailer.get("/Root")
        if not isinstance(root, Dictionary):
            raise Damaged
    except Exception:
        raise ReadError.damaged(name, "is damaged or truncated and cannot be read as a PDF") from None
    return pdf


def repaired(pdf: pikepdf.Pdf) -> bool:
    """Whether qpdf had to repair the file (a damaged or truncated copy) to open it."""
    return bool(pdf.get_warnings())


def key(obj: Any) -> tuple[int, int] | int:
    """Identity of an object for a visited set: its object number, or its Python id when direct."""
    objgen = obj.objgen
    return objgen if objgen != (0, 0) else id(obj)


def entry(node: Any, name: str) -> Any:
    """A dictionary's entry ``name`` (None when it has none), as ``node.get(name)`` gives it, but for
    an entry usually absent (a field's /Kids, /Parent): pikepdf's ``get`` of a missing key takes
    7 µs (an exception inside), looking the key up first 1 µs (a null value is absent either way)."""
    return node[name] if name in node else None


def visit(node: Any, depth: int, seen: set) -> None:
    """Mark ``node`` visited; Damaged when it was seen before (a cycle) or the walk is too deep or too big."""
    marker = key(node)
    if marker in seen:
        raise Damaged
    seen.add(marker)
    if depth > MAX_DEPTH or len(seen) > MAX_NODES:
        raise Damaged


def _name_tree(node: Any, depth: int, seen: set) -> Iterator[tuple[str, Any]]:
    """(key, value) pairs of a name tree, each node visited once, nesting bounded."""
    if not isinstance(node, Dictionary):
        raise Damaged
    visit(node, depth, seen)
    names = node.get("/Names")
    if isinstance(names, Array):
        items = list(names)
        for index in range(0, len(items) - 1, 2):
            if isinstance(items[index], String):
                yield decode_text(items[index]), items[index + 1]
    kids = node.get("/Kids")
    if isinstance(kids, Array):
        for kid in kids:
            yield from _name_tree(kid, depth + 1, seen)


def stream_bytes(stream: Any, limit: int) -> bytes:
    """A stream's decoded bytes, refusing to unpack more than ``limit`` (unfiltered or Flate only)."""
    if not isinstance(stream, Stream):
        raise Damaged
    filters = stream.get("/Filter")
    if isinstance(filters, Array):
        filters = list(filters)
    elif filters is not None:
        filters = [filters]
    else:
        filters = []
    data = stream.read_raw_bytes()
    if len(data) > limit:
        raise LimitReached
    for name in filters:
        if name != Name.FlateDecode:  # no editor re-encodes an attachment another way
            raise Damaged
        inflater = zlib.decompressobj()
        out = inflater.decompress(data, limit + 1)
        if len(out) > limit or inflater.unconsumed_tail:
            raise LimitReached
        data = out
    return data


def find_manifest(pdf: pikepdf.Pdf, name: str) -> dict[str, Any]:
    """The embedded portfolio manifest, checked; ReadError when there is none or it is damaged."""
    blob = None
    try:
        tree = pdf.Root.get("/Names")
        tree = tree.get("/EmbeddedFiles") if isinstance(tree, Dictionary) else None
        if tree is not None:
            for key_, filespec in _name_tree(tree, 0, set()):
                if key_ == PDF_ATTACHMENT_NAME and isinstance(filespec, Dictionary):
                    files = filespec.get("/EF")
                    if isinstance(files, Dictionary) and "/F" in files:
                        blob = stream_bytes(files["/F"], MANIFEST_MAX_BYTES)
                        break
    except LimitReached:
        raise
    except (Damaged, pikepdf.PdfError, zlib.error, ValueError, TypeError, AttributeError):
        raise ReadError.damaged(name, "its portfolio manifest is damaged and cannot be read") from None
    if blob is None:
        raise ReadError.not_ours(name)
    try:
        manifest = json.loads(blob.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError):
        raise ReadError.damaged(name, "its portfolio manifest is damaged and cannot be read") from None
    return check_manifest(manifest, name)


def inherited(node: Any, attribute: str) -> Any:
    """``attribute`` of a field or, failing that, of the nearest ancestor that has it (None: none has).
    A /Parent chain that loops or is longer than ``MAX_DEPTH`` raises ``Damaged``."""
    if isinstance(node, Dictionary):  # on the field itself, as editors mostly write it: no chain to walk
        value = node.get(attribute)
        if value is not None:
            return value
    seen: set = set()
    while isinstance(node, Dictionary):
        marker = key(node)
        if marker in seen or len(seen) > MAX_DEPTH:
            raise Damaged
        seen.add(marker)
        if attribute in node:
            return node[attribute]
        node = entry(node, "/Parent")
    return None


def terminal_fields(pdf: pikepdf.Pdf) -> dict[str, Any]:
    """Fully qualified name -> terminal field dictionary (widgets merged or not).
    A tree that loops, nests deeper than ``MAX_DEPTH`` or has more than ``MAX_NODES`` nodes raises ``Damaged``."""
    acroform = pdf.Root.get("/AcroForm")
    out: dict[str, Any] = {}
    if not isinstance(acroform, Dictionary):
        return out
    top = acroform.get("/Fields")
    if not isinstance(top, Array):
        return out
    seen: set = set()
    # An explicit stack rather than recursion: (node, parent's name, depth), in document order.
    stack = [(node, "", 0) for node in reversed(list(top))]
    while stack:
        node, prefix, depth = stack.pop()
        if not isinstance(node, Dictionary):
            continue  # a null or stray entry in /Fields or /Kids
        visit(node, depth, seen)
        partial = node.get("/T")
        partial = decode_text(partial) if isinstance(partial, String) else None
        name = f"{prefix}.{partial}" if prefix and partial is not None else (partial if partial is not None else prefix)
        kids = entry(node, "/Kids")
        named = [k for k in kids if isinstance(k, Dictionary) and "/T" in k] if isinstance(kids, Array) else []
        if named:
            stack.extend((kid, name, depth + 1) for kid in reversed(named))
        elif name:
            out.setdefault(name, node)
    return out


def field_widgets(fld: Any) -> list[Any]:
    """A terminal field's widget annotations: its kids, or the field itself when they are merged."""
    kids = entry(fld, "/Kids")
    widgets = [k for k in kids if isinstance(k, Dictionary)] if isinstance(kids, Array) else []
    return widgets or [fld]


def on_state(widget: Any) -> str | None:
    """The name of a button widget's 'on' appearance state (e.g. '/on'), None when it has none."""
    ap = widget.get("/AP")
    normal = ap.get("/N") if isinstance(ap, Dictionary) else None
    if not isinstance(normal, Dictionary):
        return None
    states = [s for s in normal.keys() if s != "/Off"]
    return states[0] if states else None


def decode_text(value: String) -> str:
    """A PDF text string as meant: UTF-16 with a byte order mark, UTF-8 with one (PDF 2.0),
    else PDFDocEncoding (Latin-1 when it is not that either), except that bytes forming valid multi-byte UTF-8 are read as UTF-8 (some
    tools write raw UTF-8 where PDFDocEncoding belongs; such sequences are next to impossible
    in real PDFDocEncoding text)."""
    raw = bytes(value)
    if raw.isascii():
        text = raw.decode("ascii")
        if text.isprintable():  # PDFDocEncoding is ASCII there (it differs at 0x18-0x1F and 0x7F)
            return text
    if raw[:2] in (b"\xfe\xff", b"\xff\xfe"):
        try:
            return raw.decode("utf-16")
        except UnicodeDecodeError:
            return str(value)
    if raw[:3] == b"\xef\xbb\xbf":
        return raw[3:].decode("utf-8", "replace")
    if not raw.isascii():
        try:
            return raw.decode("utf-8")
        except UnicodeDecodeError:
            pass
    text = str(value)
    if "\ufffd" in text:  # bytes PDFDocEncoding leaves undefined: neither encoding, keep every byte
        return raw.decode("latin-1")
    return text


def editor_info(pdf: pikepdf.Pdf) -> str:
    """/Producer and /Creator of the document information dictionary, joined ('' when absent)."""
    try:
        info = pdf.trailer.get("/Info")
        if not isinstance(info, Dictionary):
            return ""
        parts = [info.get(k) for k in ("/Producer", "/Creator")]
        return " ".join(decode_text(p) for p in parts if isinstance(p, String))
    except pikepdf.PdfError:
        return ""
