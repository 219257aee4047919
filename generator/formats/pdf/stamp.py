"""Compile once, stamp many: personalise copies of a rendered pack cheaply.

In: the bytes of a pack rendered once for a (content, PCN profile) pair. Out:
for each learner, a copy with their cover values and a fresh manifest (own
instance id), made without rendering again.

PDF: the blank pack is parsed once; each copy is the blank bytes plus a PDF
incremental update (ISO 32000-1, 7.5.6) that replaces the stamped fields'
dictionaries (each with an appearance stream drawn by ``appearance``, wrapped
when the field is multi-line), every page's code XObject (``marks``: the QR
code then holds the copy's instance id), the cover's return link slot and its /Link annotation
(when the blank has one) and the manifest's embedded file stream, with its own
cross-reference stream and file identifier. Readers see the updated objects;
the rendered pages are shared byte for byte.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import re
import zlib
from dataclasses import dataclass
from typing import Any, Mapping

from pypdf import PdfReader
from pypdf.generic import DictionaryObject, IndirectObject, NameObject, TextStringObject

from generator.errors import BuildError
from generator.formats.pdf import marks
from generator.formats.pdf.appearance import text_appearance
from generator.model.manifest import PDF_ATTACHMENT_NAME, RETURN_LINK_PLACEHOLDER, dumps, geometry_of, with_geometry
from generator.model.pagecode import page_code

_STARTXREF = re.compile(rb"startxref\s+(\d+)\s+%%EOF\s*$")


def _serialise(obj: Any) -> bytes:
    out = io.BytesIO()
    obj.write_to_stream(out)
    return out.getvalue()


@dataclass
class PdfStamp:
    """A rendered pack ready to be stamped; build it with ``PdfStamp.from_pdf``."""

    blank: bytes
    fields: dict[str, tuple[int, DictionaryObject]]  # field id -> (object number, field dictionary)
    manifest_object: int
    size: int  # /Size of the blank's cross-reference: the next free object number
    prev_xref: int
    root: bytes
    info: bytes | None
    first_id: bytes
    #: The blank's layout (``manifest.geometry_of``), carried into every copy's manifest.
    geometry: tuple[dict[str, list[dict[str, Any]]], list[dict[str, float]]]
    #: Each page's code XObject (``marks``): (object number, page width, page height), page 1 first.
    page_codes: list[tuple[int, float, float]]
    #: The cover's return link slot (``marks.RETURN_SLOT``): object number and rectangle; None without one.
    return_slot: tuple[int, tuple[float, float, float, float]] | None = None
    #: The slot's /Link annotation (tagged by the writer: a /Link structure element holds it), pointing at
    #: ``RETURN_LINK_PLACEHOLDER`` in the blank: object number and dictionary; None without one.
    return_annotation: tuple[int, DictionaryObject] | None = None

    @classmethod
    def from_pdf(cls, data: bytes, stamp_ids: list[str]) -> "PdfStamp":
        """Prepare ``data`` for stamping the fields ``stamp_ids`` (e.g. the cover's)."""
        from generator.formats.pdf.access import terminal_fields

        reader = PdfReader(io.BytesIO(data))
        found = terminal_fields(reader.trailer["/Root"])
        fields = {}
        for fid in stamp_ids:
            fld = found.get(fid)
            if fld is None or fld.indirect_reference is None or fld.get("/FT") != "/Tx":
                raise BuildError(f"cannot stamp '{fid}': not a text field of this pack")
            fields[fid] = (fld.indirect_reference.idnum, fld)
        try:
            names = reader.trailer["/Root"]["/Names"]["/EmbeddedFiles"]["/Names"]
            index = [str(n) for n in names[0::2]].index(PDF_ATTACHMENT_NAME)
            filespec = names[2 * index + 1].get_object()
            manifest_object = filespec["/EF"].raw_get("/F").idnum
            geometry = geometry_of(json.loads(filespec["/EF"]["/F"].get_object().get_data()))
        except (KeyError, ValueError, AttributeError) as exc:
            raise BuildError("the pack has no manifest attachment to stamp") from exc
        match = _STARTXREF.search(data[-1024:])
        if match is None:
            raise BuildError("the pack's cross-reference offset cannot be found")
        page_codes = []
        for n, page in enumerate(reader.pages, start=1):
            xobjects = page["/Resources"].get("/XObject")
            ref = xobjects.raw_get(f"/{marks.xobject_name(n)}") if xobjects and \
                f"/{marks.xobject_name(n)}" in xobjects else None
            if ref is None:
                raise BuildError(f"page {n} of the pack carries no page code to stamp (render it again)")
            page_codes.append((ref.idnum, float(page.mediabox.width), float(page.mediabox.height)))
        return_slot = None
        first = reader.pages[0]["/Resources"].get("/XObject") if reader.pages else None
        if first and f"/{marks.RETURN_SLOT}" in first:
            slot = first.raw_get(f"/{marks.RETURN_SLOT}")
            box = tuple(float(v) for v in slot.get_object()["/BBox"])
            return_slot = (slot.idnum, box)  # type: ignore[assignment]
        return_annotation = None
        for ref in (reader.pages[0].get("/Annots") or []) if reader.pages else []:
            annotation = ref.get_object()
            action = annotation.get("/A")
            if annotation.get("/Subtype") == "/Link" and hasattr(ref, "idnum") and action is not None \
                    and action.get("/URI") == RETURN_LINK_PLACEHOLDER:
                return_annotation = (ref.idnum, DictionaryObject(annotation))
                break
        trailer = reader.trailer
        info = trailer.raw_get("/Info") if "/Info" in trailer else None
        ids = trailer.get("/ID")
        return cls(
            blank=data, fields=fields, manifest_object=manifest_object, size=int(trailer["/Size"]),
            prev_xref=int(match.group(1)), root=_serialise(trailer.raw_get("/Root")),
            info=_serialise(info) if info is not None else None,
            first_id=_serialise(ids[0]) if ids else b"<" + hashlib.md5(data).hexdigest().encode() + b">",
            geometry=geometry, page_codes=page_codes, return_slot=return_slot,
            return_annotation=return_annotation,
        )

    def stamp(self, values: Mapping[str, str], manifest: Mapping[str, Any], return_link: str = "") -> bytes:
        """One personalised copy: ``values`` for the stamped fields and this copy's manifest
        (to which the blank's layout is added: the copy's pages are the blank's); with
        ``return_link``, the cover's return slot shows that link and its QR code."""
        if return_link and self.return_slot is None:
            raise BuildError("the pack was rendered without a return link slot on its cover")
        if self.geometry[1]:
            manifest = with_geometry(manifest, *self.geometry)
        body = io.BytesIO()
        offset = len(self.blank) + 1
        body.write(b"\n")
        offsets: dict[int, int] = {}

        def put(number: int, payload: bytes) -> None:
            offsets[number] = offset + body.tell() - 1
            body.write(b"%d 0 obj\n" % number + payload + b"\nendobj\n")

        next_number = self.size
        for fid, value in values.items():
            number, original = self.fields[fid]
            fld = DictionaryObject(original)
            fld[NameObject("/V")] = TextStringObject(value)
            appearance = next_number
            next_number += 1
            fld[NameObject("/AP")] = DictionaryObject(
                {NameObject("/N"): IndirectObject(appearance, 0, None)})  # type: ignore[arg-type]
            put(number, _serialise(fld))
            x1, y1, x2, y2 = (float(x) for x in original["/Rect"])
            multiline = bool(int(original.get("/Ff", 0)) & (1 << 12))
            put(appearance, text_appearance(value, abs(x2 - x1), abs(y2 - y1), multiline).xobject())
        for page, (number, width, height) in enumerate(self.page_codes, start=1):
            put(number, marks.code_xobject(page_code(dict(manifest), page), width, height))
        if return_link and self.return_slot is not None:
            put(self.return_slot[0], marks.return_link_xobject(return_link, self.return_slot[1]))
        if self.return_annotation is not None:  # the slot's link opens this copy's return link (or nothing)
            number, original = self.return_annotation
            put(number, _serialise(return_link_annotation(original, return_link)))
        raw = dumps(dict(manifest)).encode("utf-8")
        packed = zlib.compress(raw, 6)
        header = (b"<< /Type /EmbeddedFile /Subtype /application#2Fjson /Filter /FlateDecode /Length %d "
                  b"/Params << /Size %d /CheckSum <%s> >> >>" % (len(packed), len(raw),
                                                                  hashlib.md5(raw).hexdigest().encode()))
        put(self.manifest_object, header + b"\nstream\n" + packed + b"\nendstream")

        xref_number = next_number
        numbers = sorted([*offsets, xref_number])
        xref_offset = offset + body.tell() - 1
        offsets[xref_number] = xref_offset
        rows = b"".join(b"\x01" + offsets[n].to_bytes(4, "big") + b"\x00\x00" for n in numbers)
        index = b" ".join(b"%d 1" % n for n in numbers)
        new_id = b"<" + os.urandom(16).hex().encode() + b">"
        trailer = (b"<< /Type /XRef /Size %d /Index [%s] /W [1 4 2] /Prev %d /Root %s%s /ID [%s %s] "
                   b"/Length %d >>" % (xref_number + 1, index, self.prev_xref, self.root,
                                       b" /Info " + self.info if self.info else b"", self.first_id, new_id,
                                       len(rows)))
        body.write(b"%d 0 obj\n" % xref_number + trailer + b"\nstream\n" + rows + b"\nendstream\nendobj\n")
        body.write(b"startxref\n%d\n%%%%EOF\n" % xref_offset)
        return self.blank + body.getvalue()


def return_link_annotation(original: DictionaryObject, link: str) -> DictionaryObject:
    """The cover slot's /Link annotation for one copy: a /URI action to ``link`` and a /Contents
    description naming it (PDF/UA: a link says where it goes); without a link, no action at all."""
    annotation = DictionaryObject(original)
    if link:
        annotation[NameObject("/A")] = DictionaryObject({
            NameObject("/Type"): NameObject("/Action"), NameObject("/S"): NameObject("/URI"),
            NameObject("/URI"): TextStringObject(link)})
        annotation[NameObject("/Contents")] = TextStringObject(f"Your personal return link: {link}")
    else:
        del annotation[NameObject("/A")]
        annotation[NameObject("/Contents")] = TextStringObject("No return link was stamped on this copy")
    return annotation


def print_ready(stamper: PdfStamp, manifests: list[Mapping[str, Any]], title: str) -> bytes:
    """Copies of ``stamper``'s blank (e.g. a learner's feedback forms), one per manifest, as one PDF
    to print: the blank's pages once per copy, each page with its own page code (so each form names
    its own instance id), sharing every other object (fonts, images) across the copies; without form
    fields or manifests: a copy to fill on screen is a separate file, this one is for paper, read
    back by scanning it. Tagged as the blank is, a /Part per form."""
    import pikepdf

    from generator.formats.pdf.structure import tag_copies

    source = pikepdf.open(io.BytesIO(stamper.blank))
    out = pikepdf.new()
    copies = []
    for manifest in manifests:
        copies.append([])
        for n, (page, (_, width, height)) in enumerate(zip(source.pages, stamper.page_codes), start=1):
            out.pages.append(page)
            copy = out.pages[-1].obj
            copies[-1].append(copy)
            for key in ("/Annots", "/StructParents", "/Tabs"):  # the widgets stay behind; tags: tag_copies
                if key in copy:
                    del copy[key]
            code = out.make_stream(marks.code_content(page_code(dict(manifest), n), height))
            code.Type, code.Subtype = pikepdf.Name.XObject, pikepdf.Name.Form
            code.BBox = pikepdf.Array([0, 0, width, height])
            resources = pikepdf.Dictionary({k: v for k, v in copy.Resources.items()})
            xobjects = pikepdf.Dictionary({k: v for k, v in resources.get("/XObject", {}).items()})
            xobjects[f"/{marks.xobject_name(n)}"] = code
            if f"/{marks.RETURN_SLOT}" in xobjects:
                del xobjects[f"/{marks.RETURN_SLOT}"]
            resources.XObject = xobjects
            copy.Resources = resources
    tag_copies(out, source, copies)
    # The blank's layout (every field's widget rectangles, the page sizes), so that registering the
    # copies can record what a scan of each one is read against: no manifest, no instance id.
    from generator.formats.pdf.objects import find_manifest
    from generator.model.manifest import LAYOUT_ATTACHMENT_NAME
    layout = dict(find_manifest(source, "blank"))
    layout.pop("instance_id", None)
    layout["part"] = manifests[0].get("part") if manifests else None
    out.attachments[LAYOUT_ATTACHMENT_NAME] = pikepdf.AttachedFileSpec(
        out, dumps(layout).encode("utf-8"), mime_type="application/json")
    with out.open_metadata(set_pikepdf_as_editor=False) as meta:
        meta["dc:title"] = title
    out.docinfo["/Title"] = title
    out.Root.Lang = pikepdf.String("en-GB")
    buffer = io.BytesIO()
    out.save(buffer, compress_streams=True, object_stream_mode=pikepdf.ObjectStreamMode.generate)
    source.close()
    return buffer.getvalue()
