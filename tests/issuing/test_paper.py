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
