"""Issuing for paper: print-ready feedback forms (one PDF per learner) and return links on the cover.

Page codes and return links are read back from 200 dpi renderings by zxing-cpp
(tests/pagecodes.py), independently of the writer's QR encoder.
"""

from __future__ import annotations

import subprocess
from datetime import date, timedelta
from pathlib import Path

import pikepdf
import pytest
from click.testing import CliRunner
from pypdf import PdfReader

from generator.cli.common import main
from generator.model.pagecode import decode
from tests.conftest import need_tool
from tests.issuing.test_issue import ROWS, register_rows, roster
from tests.pagecodes import page_codes, read_codes

FORMS = 3


@pytest.fixture(scope="module")
def printed(tmp_path_factory):
    out = tmp_path_factory.mktemp("printed")
    path = roster(out, ROWS[:2])
    result = CliRunner().invoke(main, ["issue", str(path), "--cohort", "Paper", "--out", str(out), "--format", "pdf",
                                       "--feedback-forms", str(FORMS), "--print", "--jobs", "1"])
    assert result.exit_code == 0, result.output
    # 2 learners: a pack and one print-ready file of 3 forms each (the register has a row per form)
    assert "issued 2 learners, 4 files in" in result.output
    return out / "paper"


def test_each_learner_gets_one_print_file_instead_of_separate_forms(printed):
    names = sorted(p.name for p in (printed / "riverside-pcn").iterdir() if not p.name.startswith("."))
    assert names == ["siobhan-kelly-feedback-forms.pdf", "siobhan-kelly.pdf",
                     "zoe-lukasiewicz-feedback-forms.pdf", "zoe-lukasiewicz.pdf"]


def test_every_form_in_the_print_file_names_its_own_registered_instance(printed, tmp_path):
    rows = register_rows(printed / "issued.csv")
    for learner, stem in (("Zoë Łukasiewicz", "zoe-lukasiewicz"), ("Siobhán Kelly", "siobhan-kelly")):
        forms = [r for r in rows if r["learner"] == learner and r["document"] == "patient_feedback"]
        assert len(forms) == FORMS
        assert {r["file"] for r in forms} == {f"riverside-pcn/{stem}-feedback-forms.pdf"}
        path = printed / "riverside-pcn" / f"{stem}-feedback-forms.pdf"
        pages = len(PdfReader(path).pages)
        assert pages % FORMS == 0
        codes = [decode(text) for text in page_codes(path, pages, tmp_path)]
        per_form = pages // FORMS
        # Forms one after another, each numbering its own pages from 1, each its own instance.
        assert [c.page for c in codes] == list(range(1, per_form + 1)) * FORMS
        in_order = [codes[i].instance_id for i in range(0, pages, per_form)]
        assert sorted(in_order) == sorted(r["instance_id"] for r in forms)
        assert len(set(in_order)) == FORMS
        assert all(c.instance_id == in_order[i // per_form] for i, c in enumerate(codes))


def test_the_print_file_is_valid_and_has_no_form_fields(printed):
    need_tool("qpdf")
    path = printed / "riverside-pcn" / "zoe-lukasiewicz-feedback-forms.pdf"
    check = subprocess.run(["qpdf", "--check", str(path)], capture_output=True, text=True)
    assert check.returncode == 0, check.stdout + check.stderr
    with pikepdf.open(path) as pdf:
        # no form and no manifest: only the blank's layout, which registering records for reading scans
        assert "/AcroForm" not in pdf.Root and set(pdf.attachments) == {"portfolio-layout.json"}
        assert all("/Annots" not in page.obj for page in pdf.pages)
        assert str(pdf.docinfo["/Title"]).endswith(f"{FORMS} forms for Zoë Łukasiewicz")


def test_print_needs_feedback_forms(tmp_path):
    path = roster(tmp_path, ROWS[:1])
    result = CliRunner().invoke(main, ["issue", str(path), "--cohort", "c", "--out", str(tmp_path / "out"),
                                       "--print"])
    assert result.exit_code != 0
    assert "--print prints the feedback forms: say how many with --feedback-forms N" in result.output
    assert not (tmp_path / "out").exists()


# ---------------------------------------------------------------- return links

@pytest.fixture(scope="module")
def linked(tmp_path_factory):
    from generator.records.connect import open_store
    out = tmp_path_factory.mktemp("linked")
    store = out / "records.sqlite"
    open_store(store).close()
    by = date.today() + timedelta(days=30)
    result = CliRunner().invoke(main, [
        "issue", str(roster(out, ROWS[:2])), "--cohort", "Links", "--out", str(out), "--format", "all",
        "--store", str(store), "--return-url", "https://portfolio.example.org/", "--return-by",
        by.strftime("%d/%m/%Y"), "--jobs", "1"])
    assert result.exit_code == 0, result.output
    return out / "links", store, by


def _cover_codes(pdf: Path, folder: Path) -> list[str]:
    need_tool("pdftoppm")
    subprocess.run(["pdftoppm", "-gray", "-png", "-r", "200", "-f", "1", "-l", "1", "-singlefile", str(pdf),
                    str(folder / "cover")], check=True, timeout=120)
    from PIL import Image
    return sorted(c.text for c in read_codes(Image.open(folder / "cover.png").convert("L")))


def test_each_cover_shows_its_own_return_link_tied_to_its_instance(linked, tmp_path):
    from generator.records.connect import open_store
    from generator.records.users import check_return_token
    cohort, store_file, by = linked
    rows = register_rows(cohort / "issued.csv")
    links = {}
    for stem, learner in (("zoe-lukasiewicz", "Zoë Łukasiewicz"), ("siobhan-kelly", "Siobhán Kelly")):
        pdf = cohort / "riverside-pcn" / f"{stem}.pdf"
        codes = _cover_codes(pdf, tmp_path)
        assert len(codes) == 2  # the page code and the return link
        link = [c for c in codes if c.startswith("https://")][0]
        assert link.startswith("https://portfolio.example.org/return/")  # no doubled slash
        instance = [r["instance_id"] for r in rows if r["learner"] == learner and r["file"].endswith(".pdf")][0]
        assert decode([c for c in codes if c.startswith("PF1|")][0]).instance_id == instance
        # The link is printed as text too, for someone typing it in (pdftotext joins its wrapped lines).
        text = subprocess.run(["pdftotext", "-f", "1", "-l", "1", str(pdf), "-"], capture_output=True,
                              text=True, check=True).stdout
        assert "Your personal return link:" in text and by.strftime("%d/%m/%Y") in text
        assert link.removeprefix("https://portfolio.example.org/return/")[:12] in text.replace("\n", "")
        links[instance] = link
    assert len(set(links.values())) == 2
    with open_store(store_file, create=False) as store:
        for instance, link in links.items():
            row = check_return_token(store, link.rsplit("/", 1)[1])
            assert row is not None and row.instance_id == instance
            assert row.expires.startswith(f"{by.isoformat()}T23:59:59")
        assert check_return_token(store, "not-a-token") is None


def test_a_return_link_needs_a_store_and_a_usable_address(tmp_path):
    path = roster(tmp_path, ROWS[:1])
    soon = (date.today() + timedelta(days=3)).strftime("%d/%m/%Y")
    base = ["issue", str(path), "--cohort", "c", "--out", str(tmp_path / "out"), "--format", "pdf"]
    cases = [
        (["--store", str(tmp_path / "none.sqlite"), "--return-url", "https://p.example.org", "--return-by", soon],
         "return links need a records store"),
        (["--return-url", "portfolio.example.org", "--return-by", soon], "is not the web app's address"),
        (["--return-url", "https://p.example.org", "--return-by", "31/02/2030"], "is not a date"),
        (["--return-url", "https://p.example.org", "--return-by", "01/01/2020"], "is not in the future"),
        (["--return-url", "https://p.example.org"], "needs both --return-url"),
    ]
    for extra, message in cases:
        result = CliRunner().invoke(main, base + extra)
        assert result.exit_code != 0, extra
        assert message in result.output, (extra, result.output)
        assert not list((tmp_path / "out").rglob("*.pdf"))


def test_the_print_file_is_tagged_a_part_per_form(printed):
    from tests.formats.pdf.test_pdfua import KNOWN_SKIPS, _check

    path = printed / "riverside-pcn" / "zoe-lukasiewicz-feedback-forms.pdf"
    with pikepdf.open(path) as pdf:
        assert pdf.Root.MarkInfo.Marked is True and pdf.Root.ViewerPreferences.DisplayDocTitle is True
        with pdf.open_metadata() as meta:
            assert meta["pdfuaid:part"] == "1"
        document = pdf.Root.StructTreeRoot.K
        assert document.S == "/Document" and [str(part.S) for part in document.K] == ["/Part"] * FORMS
        pages = [page.obj for page in pdf.pages]
        keys = [int(page.StructParents) for page in pages]
        assert keys == list(range(len(pages)))
        nums = pdf.Root.StructTreeRoot.ParentTree.Nums
        assert [int(nums[i]) for i in range(0, len(nums), 2)] == keys  # a key per page, none for widgets
        per_form = len(pages) // FORMS
        for n, page in enumerate(pages):
            marked = [e for e in nums[2 * n + 1] if isinstance(e, pikepdf.Dictionary)]
            assert marked, f"page {n + 1} has no tagged content"
            for element in marked:
                assert element.Pg.objgen == page.objgen  # each copy's tags point at its own page
                top = element
                while top.P.get("/S") != "/Document":
                    top = top.P
                assert top.objgen == document.K[n // per_form].objgen  # ... inside that form's part

        def no_widget_objects(element):
            kids = element.K if isinstance(element.K, pikepdf.Array) else [element.K]
            for kid in kids:
                if isinstance(kid, pikepdf.Dictionary):
                    assert kid.get("/Type") != "/OBJR"
                    if "/K" in kid:
                        no_widget_objects(kid)
        no_widget_objects(document)
    report = _check(path)
    assert [f for f in report["findings"] if f["severity"].upper() in ("ERROR", "WARNING")] == []
    assert {s["rule_id"] for s in report["skipped"]} <= set(KNOWN_SKIPS)


def _link_of(linked, stem: str, tmp_path: Path) -> str:
    """The return link the PDF cover's QR code holds (read by zxing-cpp from a rendering)."""
    cohort, _, _ = linked
    return [c for c in _cover_codes(cohort / "riverside-pcn" / f"{stem}.pdf", tmp_path) if c.startswith("https://")][0]


def test_the_pdf_covers_printed_link_is_a_tagged_link_annotation(linked, tmp_path):
    import json
    import sys
    need_tool("qpdf")
    cohort, _, _ = linked
    pdf_path = cohort / "riverside-pcn" / "zoe-lukasiewicz.pdf"
    link = _link_of(linked, "zoe-lukasiewicz", tmp_path)
    check = subprocess.run(["qpdf", "--check", str(pdf_path)], capture_output=True, text=True)
    assert check.returncode == 0, check.stdout + check.stderr
    with pikepdf.open(pdf_path) as pdf:
        cover = pdf.pages[0]
        links = [a for a in cover.obj.get("/Annots", []) if a.get("/Subtype") == "/Link"]
        assert len(links) == 1
        annotation = links[0]
        assert str(annotation.A.S) == "/URI" and str(annotation.A.URI) == link
        assert str(annotation.Contents) == f"Your personal return link: {link}"
        # over the slot where the QR code and the printed link are drawn
        x0, y0, x1, y1 = (float(v) for v in cover.Resources.XObject["/PFreturn"].BBox)
        ax = sorted(float(v) for v in annotation.Rect[0::2])
        ay = sorted(float(v) for v in annotation.Rect[1::2])
        assert abs(ax[0] - x0) < 1 and abs(ax[1] - x1) < 1 and abs(ay[0] - y0) < 1 and abs(ay[1] - y1) < 1
        # PDF/UA: the annotation is the content of a /Link structure element, found through the parent tree
        nums = pdf.Root.StructTreeRoot.ParentTree.Nums
        parents = {int(nums[i]): nums[i + 1] for i in range(0, len(nums), 2)}
        element = parents[int(annotation.StructParent)]
        assert str(element.S) == "/Link"
        kids = element.K if isinstance(element.K, pikepdf.Array) else [element.K]
        assert any(isinstance(k, pikepdf.Dictionary) and k.get("/Type") == "/OBJR" and k.Obj.objgen == annotation.objgen
                   for k in kids)
    # and the machine-checkable PDF/UA rules still pass on the stamped copy
    result = subprocess.run([sys.executable, "-m", "pdfua", "check", "--format", "json", str(pdf_path)],
                            capture_output=True, text=True, timeout=300)
    findings = [f for f in json.loads(result.stdout)["findings"] if f["severity"].upper() in ("ERROR", "WARNING")]
    assert findings == [], findings


def _word_link(docx: bytes) -> dict[str, str]:
    """What a Word copy's return link is made of: the hyperlink's target (its relationship) and text,
    the QR picture's alternative text and what the picture decodes to (zxing-cpp)."""
    import io
    import zipfile

    from lxml import etree
    from PIL import Image

    from tests.pagecodes import read_codes
    w = "{http://schemas.openxmlformats.org/wordprocessingml/2006/main}"
    r = "{http://schemas.openxmlformats.org/officeDocument/2006/relationships}"
    with zipfile.ZipFile(io.BytesIO(docx)) as archive:
        document = etree.fromstring(archive.read("word/document.xml"))
        rels = etree.fromstring(archive.read("word/_rels/document.xml.rels"))
        hyperlinks = [h for h in document.iter(f"{w}hyperlink")
                      if "".join(h.itertext()).startswith("https://portfolio.example.org/return/")]
        assert len(hyperlinks) == 1, [("".join(h.itertext())) for h in document.iter(f"{w}hyperlink")]
        rid = hyperlinks[0].get(f"{r}id")
        [rel] = [x for x in rels if x.get("Id") == rid]
        pictures = [p for p in document.iter("{http://schemas.openxmlformats.org/drawingml/2006/wordprocessingDrawing}"
                                             "docPr") if (p.get("descr") or "").startswith("QR code of your")]
        [picture] = pictures
        blip = next(picture.getparent().iter("{http://schemas.openxmlformats.org/drawingml/2006/main}blip"))
        [image_rel] = [x for x in rels if x.get("Id") == blip.get(f"{r}embed")]
        image = Image.open(io.BytesIO(archive.read("word/" + image_rel.get("Target")))).convert("L")
    codes = [c.text for c in read_codes(image)]
    return {"target": rel.get("Target"), "mode": rel.get("TargetMode"), "text": "".join(hyperlinks[0].itertext()),
            "alt": picture.get("descr"), "qr": codes[0] if len(codes) == 1 else repr(codes)}


def test_the_word_copy_carries_its_own_return_link_and_keeps_it_through_libreoffice(linked, tmp_path):
    from generator.reading.read import read_bytes
    from tests.formats.docx.test_read import _soffice
    cohort, _, _ = linked
    rows = register_rows(cohort / "issued.csv")
    link = _link_of(linked, "zoe-lukasiewicz", tmp_path)  # the PDF's: one link per learner, both formats
    expected = {"target": link, "mode": "External", "text": link, "alt": f"QR code of your personal return link: {link}",
                "qr": link}
    docx = cohort / "riverside-pcn" / "zoe-lukasiewicz.docx"
    assert _word_link(docx.read_bytes()) == expected
    other = _word_link((cohort / "riverside-pcn" / "siobhan-kelly.docx").read_bytes())
    assert other["target"] != link and other["qr"] == other["target"] == other["text"]
    instance = [r["instance_id"] for r in rows if r["learner"] == "Zoë Łukasiewicz" and r["file"].endswith(".docx")][0]
    assert read_bytes(docx.read_bytes(), docx.name).pack["instance_id"] == instance
    # re-saved by LibreOffice: still a hyperlink to the same link, the picture and its text kept, still readable
    need_tool("soffice")
    [resaved] = _soffice(tmp_path, "docx", [docx], "resaved")
    after = _word_link(resaved.read_bytes())
    assert {k: after[k] for k in ("target", "mode", "text", "qr")} == {k: expected[k] for k in ("target", "mode", "text", "qr")}
    assert after["alt"].startswith("QR code of your personal return link")
    assert read_bytes(resaved.read_bytes(), resaved.name).pack["instance_id"] == instance


def test_reading_the_print_file_says_what_it_is_for(printed):
    path = printed / "riverside-pcn" / "zoe-lukasiewicz-feedback-forms.pdf"
    result = CliRunner().invoke(main, ["read", str(path)])
    assert result.exit_code == 1
    assert result.output == ("Error: zoe-lukasiewicz-feedback-forms.pdf: is a print-ready file of forms for paper "
                             "(issued with --print), with no form fields: print it, and ingest the scans of the "
                             "filled-in forms\n")
