"""Acceptance suite for untrusted input: one named case per threat.

Each case runs the real command in a fresh process and asserts the message, the
exit code, and that memory stayed within the limits (a hang is killed and fails the
test; how fast rejection is belongs in benchmarks/, not here). Cases that reach
the records store are in tests/records/test_ingest_security.py.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import yaml

from generator.content.loader import DEFAULT_CONTENT_DIR
from generator.formats.pdf.fill import fill_pdf
from tests import hostile
from tests.hostile import run_cli_measured

#: What any rejected file may cost in memory: well under the child's 768 MB cap.
MAX_MB = 400


@pytest.fixture(scope="module")
def pack_pdf(pdf_path) -> bytes:
    return pdf_path.read_bytes()


@pytest.fixture(scope="module")
def pack_docx(docx_path) -> bytes:
    return docx_path.read_bytes()


def rejected(tmp_path: Path, name: str, data: bytes | None, reason: str) -> None:
    path = tmp_path / name
    if data is not None:
        path.write_bytes(data)
    out = tmp_path / "record.json"
    run = run_cli_measured("read", str(path), "-o", str(out))
    assert run.code == 1, run.err
    assert run.err == f"Error: {name}: {reason}\n"
    assert run.out == "" and not out.exists()
    assert run.peak_mb < MAX_MB, run.peak_mb


def test_empty_file(tmp_path):
    rejected(tmp_path, "empty.pdf", b"", "file is empty (0 bytes): it was not saved or sent whole; ask for the copy again")


def test_truncated_pdf(tmp_path, pack_pdf):
    rejected(tmp_path, "truncated.pdf", pack_pdf[:40_000],
             "is damaged or truncated and cannot be read as a PDF; ask for the copy again, saved once more from the program it was filled in")


def test_renamed_non_pdf(tmp_path):
    rejected(tmp_path, "photo.pdf", b"\x89PNG\r\n\x1a\n" + b"\0" * 100,
             "is a scanned image (PNG): scans are read by 'portfolio ingest FILE --store STORE', against the "
             "store's record of the issued copies")
    rejected(tmp_path, "notes.pdf", b"Name,Practice\nZoe,High Street\n",
             "is not a PDF or Word (.docx) file: check that it is the filled copy itself (the .pdf or .docx file "
             "that was sent out), or ask for the copy again")


def test_encrypted_pdf(tmp_path, pack_pdf):
    rejected(tmp_path, "locked.pdf", hostile.encrypted_pdf(pack_pdf),
             "is encrypted; return an unprotected copy (remove the password before sending)")


def test_aes_256_encrypted_pdf(tmp_path, pack_pdf):
    """AES-256, the usual choice of today's PDF editors, needs pypdf's crypto dependency to recognise."""
    rejected(tmp_path, "locked256.pdf", hostile.encrypted_pdf(pack_pdf, "AES-256"),
             "is encrypted; return an unprotected copy (remove the password before sending)")


def test_flattened_pdf(tmp_path, pack_pdf):
    rejected(tmp_path, "printed.pdf", hostile.flattened_pdf(pack_pdf),
             "has no form fields: it was probably printed to PDF or flattened. "
             "Return the fillable copy that was issued, filled in")


def test_cyclic_page_tree_and_circular_xref(tmp_path):
    path = tmp_path / "cyclic.pdf"
    path.write_bytes(hostile.cyclic_page_tree_pdf())
    run = run_cli_measured("read", str(path))
    assert run.code == 1 and run.err.startswith("Error: cyclic.pdf: ")
    assert run.err.count("\n") == 1 and run.peak_mb < MAX_MB


def test_decompression_bomb(tmp_path, pack_pdf):
    rejected(tmp_path, "bomb.pdf", hostile.decompression_bomb_pdf(pack_pdf),
             "goes beyond the reading limits (a stream that unpacks to more than 10 MB, or too many objects); "
             "refused as a possible decompression bomb")


def test_pdf_of_200_mb(tmp_path):
    hostile.big_file(tmp_path / "huge.pdf")
    rejected(tmp_path, "huge.pdf", None, "is 200.0 MB; the limit is 25 MB: a filled copy is under 2 MB, so check "
             "that this is the copy itself; a scan of many pages: split it into smaller files, or scan at 200-300 dpi")


def test_docx_zip_bomb(tmp_path, pack_docx):
    rejected(tmp_path, "bomb.docx", hostile.docx_zip_bomb(pack_docx),
             "unpacks to more than 100 MB; refused as a possible zip bomb")


def test_docx_xxe_entity(tmp_path, pack_docx):
    rejected(tmp_path, "xxe.docx", hostile.docx_xxe(pack_docx),
             "contains a DOCTYPE declaration in word/document.xml; this is not a normal Word file")


def test_docm_with_macros(tmp_path, pack_docx):
    rejected(tmp_path, "macro.docm", hostile.docm(pack_docx),
             "contains macros (.docm); save it as a Word Document (.docx) and send that")


def test_docx_external_relationship(tmp_path, pack_docx):
    rejected(tmp_path, "linked.docx", hostile.docx_external_relationship(pack_docx),
             "links to an external resource ('http://attacker.invalid/t.dotm' in word/_rels/document.xml.rels); "
             "refused: save a plain copy without linked templates or objects")


# ---------------------------------------------------------------- content and profiles

@pytest.fixture
def content_dir(tmp_path: Path) -> Path:
    target = tmp_path / "content"
    shutil.copytree(DEFAULT_CONTENT_DIR, target)
    return target


def profile_check(content_dir: Path, profile: dict) -> str:
    path = content_dir / "pcns" / "riverside-pcn" / "profile.yaml"
    path.write_text(yaml.safe_dump(profile, allow_unicode=True), encoding="utf-8")
    run = run_cli_measured("check", "--content", str(content_dir))
    assert run.code == 1 and run.peak_mb < MAX_MB
    return run.err


def test_template_injection_in_profile_yaml(content_dir):
    err = profile_check(content_dir, {"name": "Riverside {{ ''.__class__.__mro__[1].__subclasses__() }}"})
    assert ("pcns/riverside-pcn/profile.yaml: name: refused template text (access to attribute '__class__' of "
            "'str' object is unsafe.)") in err


def test_huge_repetition_in_profile_yaml(content_dir):
    err = profile_check(content_dir, {"name": "Riverside PCN", "footer": "{{ 'ha' * 1000000000 }}"})
    assert "pcns/riverside-pcn/profile.yaml: footer: refused template text (the result would be too long)" in err


def test_yaml_alias_bomb_in_profile(content_dir):
    path = content_dir / "pcns" / "riverside-pcn" / "profile.yaml"
    lines = ["name: Laughs", 'l0: &l0 ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]']
    lines += [f"l{i}: &l{i} [" + ", ".join([f"*l{i - 1}"] * 9) + "]" for i in range(1, 12)]
    path.write_text("\n".join(lines) + "\n")
    run = run_cli_measured("check", "--content", str(content_dir))
    assert run.code == 1 and "more than 50 aliases (*name); refused" in run.err
    assert run.peak_mb < MAX_MB


def test_svg_logo(content_dir):
    folder = content_dir / "pcns" / "riverside-pcn"
    (folder / "logo.svg").write_text('<svg xmlns="http://www.w3.org/2000/svg" onload="alert(1)"/>')
    err = profile_check(content_dir, {"name": "Riverside PCN", "logo": "logo.svg"})
    assert "pcns/riverside-pcn/profile.yaml: logo: 'logo.svg' is an SVG; use a PNG or JPEG file" in err


def test_pixel_bomb_png(content_dir):
    from tests.content.test_profile import _huge_png
    (content_dir / "pcns" / "riverside-pcn" / "bomb.png").write_bytes(_huge_png(50_000, 50_000))
    err = profile_check(content_dir, {"name": "Riverside PCN", "logo": "bomb.png"})
    assert ("pcns/riverside-pcn/profile.yaml: logo: 'bomb.png' is 50000 x 50000 pixels; the limit is 25 megapixels "
            "(scale it down)") in err


# ---------------------------------------------------------------- patient identifiers

NOTES = "final_review.review.self_assessment"


def read_with_text(tmp_path: Path, pack_pdf: bytes, text: str):
    path = tmp_path / "answers.pdf"
    path.write_bytes(fill_pdf(pack_pdf, {NOTES: text}))
    return run_cli_measured("read", str(path))


def test_valid_synthetic_nhs_number_is_flagged_without_echoing_it(tmp_path, pack_pdf):
    number = hostile.valid_nhs_number()
    spaced = f"{number[:3]} {number[3:6]} {number[6:]}"
    run = read_with_text(tmp_path, pack_pdf, f"Reviewed the plan for the patient ({spaced}) with the GP.")
    assert run.code == 0
    assert json.loads(run.out)["flags"] == [{"field": NOTES, "kind": "nhs_number"}]
    assert run.err == f"review: {NOTES}: possible nhs number (value not shown)\n"
    assert number[:3] not in run.err and number[6:] not in run.err


def test_nhs_number_with_a_bad_check_digit_is_not_flagged(tmp_path, pack_pdf):
    number = hostile.valid_nhs_number()
    bad = number[:9] + str((int(number[9]) + 1) % 10)
    run = read_with_text(tmp_path, pack_pdf, f"Reference {bad} from the rota.")
    assert run.code == 0 and json.loads(run.out)["flags"] == [] and run.err == ""


def test_postcode_is_flagged(tmp_path, pack_pdf):
    run = read_with_text(tmp_path, pack_pdf, "Visited the carer at home near LS1 4AP to agree the plan.")
    assert json.loads(run.out)["flags"] == [{"field": NOTES, "kind": "postcode"}]
    assert "LS1" not in run.err


def test_date_of_birth_is_flagged(tmp_path, pack_pdf):
    run = read_with_text(tmp_path, pack_pdf, "Gentleman, DOB 04/07/1941, lives alone.")
    assert json.loads(run.out)["flags"] == [{"field": NOTES, "kind": "date_of_birth"}]
    assert "1941" not in run.err


def test_ordinary_dates_and_numbers_are_not_flagged(tmp_path, pack_pdf):
    run = read_with_text(tmp_path, pack_pdf, "Met on 01/09/2026; 12 actions agreed, 3 completed by week 10.")
    assert json.loads(run.out)["flags"] == []


def test_an_excel_workbook_is_named_as_one(tmp_path):
    import openpyxl
    book = openpyxl.Workbook()
    book.active.append(["name", "practice"])
    book.save(tmp_path / "book.xlsx")
    rejected(tmp_path, "roster.xlsx", (tmp_path / "book.xlsx").read_bytes(),
             "is an Excel workbook, not a returned copy of the pack (a roster is issued with 'portfolio issue')")
