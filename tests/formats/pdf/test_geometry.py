"""The PDF's manifest records its layout: each field's widgets (page, /Rect, on-state) and each page's size.

The scan reader reads a printed page against these, so they must be exactly the
widgets a PDF reader finds in the file, and a stamped copy must carry them too.
"""

from __future__ import annotations

import io
import json

import pytest
from pypdf import PdfReader

from generator.formats.pdf.access import field_widgets, on_state, terminal_fields
from generator.formats.pdf.stamp import PdfStamp
from generator.model.manifest import PDF_ATTACHMENT_NAME, geometry_of, make_manifest, with_geometry

A4_POINTS = {"width": 595.276, "height": 841.89}


def _manifest(reader: PdfReader) -> dict:
    return json.loads(reader.attachments[PDF_ATTACHMENT_NAME][0])


@pytest.fixture(scope="module")
def reader(pdf_path):
    return PdfReader(pdf_path)


def test_every_page_is_listed_with_its_size(reader):
    pages = _manifest(reader)["pages"]
    assert len(pages) == len(reader.pages)
    assert all(p == A4_POINTS for p in pages)


def test_every_widget_is_recorded_where_the_pdf_puts_it(reader):
    page_of = {page.indirect_reference.idnum: n for n, page in enumerate(reader.pages, start=1)}
    on_page = {}  # widget object number -> page it is an annotation of
    for n, page in enumerate(reader.pages, start=1):
        for annot in page.get("/Annots", []):
            on_page[annot.idnum] = n
    found = terminal_fields(reader.trailer["/Root"])
    definitions = _manifest(reader)["fields"]
    assert {d["id"] for d in definitions} == set(found)
    for definition in definitions:
        widgets = field_widgets(found[definition["id"]])
        kids = found[definition["id"]].get("/Kids", [])
        refs = [k.idnum for k in kids] or [found[definition["id"]].indirect_reference.idnum]
        expected = []
        for widget, ref in zip(widgets, refs):
            assert page_of[widget.raw_get("/P").idnum] == on_page[ref]
            state = on_state(widget)
            on = None if widget.get("/FT", found[definition["id"]].get("/FT")) == "/Tx" else state[1:]
            expected.append({"page": on_page[ref], "rect": [float(v) for v in widget["/Rect"]], "on": on})
        if definition["kind"] == "checkbox":
            assert [e["on"] for e in expected] == ["Yes"]
            expected = [{**e, "on": True} for e in expected]
        assert definition["widgets"] == expected, definition["id"]


def test_known_widgets(reader):
    fields = {d["id"]: d for d in _manifest(reader)["fields"]}
    name = fields["cover.details.name"]["widgets"]
    assert len(name) == 1 and name[0]["page"] == 1 and name[0]["on"] is None
    x0, y0, x1, y1 = name[0]["rect"]
    assert x0 < x1 and y0 < y1 and y0 > A4_POINTS["height"] / 2  # the upper half of the cover
    signoff = fields["competencies.personalised_care_signoff.achieved"]
    assert [o["value"] for o in signoff["options"]] == ["yes", "no"]
    assert [w["on"] for w in signoff["widgets"]] == ["yes", "no"]
    assert len({w["page"] for w in signoff["widgets"]}) == 1
    for w in signoff["widgets"]:  # the button's drawn box: 13 pt square
        assert round(w["rect"][2] - w["rect"][0], 3) == 13.0 and round(w["rect"][3] - w["rect"][1], 3) == 13.0
    box = fields["competencies.personalised_care.care_planning_discussions.achieved"]["widgets"]
    assert [w["on"] for w in box] == [True]


def test_a_stamped_copy_carries_the_blank_layout(pdf_path, form):
    blank = pdf_path.read_bytes()
    stamper = PdfStamp.from_pdf(blank, ["cover.details.name"])
    copy_manifest = make_manifest(form, instance_id="00000000-0000-4000-8000-0000000000aa",
                                  learner={"name": "Ada Example"})
    copy = PdfReader(io.BytesIO(stamper.stamp({"cover.details.name": "Ada Example"}, copy_manifest)))
    stamped, original = _manifest(copy), _manifest(PdfReader(io.BytesIO(blank)))
    assert stamped["instance_id"] == "00000000-0000-4000-8000-0000000000aa"
    assert stamped["pages"] == original["pages"]
    assert [d["widgets"] for d in stamped["fields"]] == [d["widgets"] for d in original["fields"]]


def test_geometry_round_trips_through_the_manifest(form):
    manifest = make_manifest(form)
    first = manifest["fields"][0]["id"]
    widgets = {first: [{"page": 2, "rect": [1.0, 2.0, 3.0, 4.0], "on": None}]}
    placed = with_geometry(manifest, widgets, [A4_POINTS])
    assert placed["fields"][0]["widgets"] == [{"page": 2, "rect": [1.0, 2.0, 3.0, 4.0], "on": None}]
    assert placed["fields"][1]["widgets"] == []
    assert placed["pages"] == [A4_POINTS]
    assert "widgets" not in manifest["fields"][0]  # the given manifest is left as it was
    assert geometry_of(placed) == ({d["id"]: d["widgets"] for d in placed["fields"]}, [A4_POINTS])
