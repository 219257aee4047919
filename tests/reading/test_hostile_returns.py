"""Hostile returns found by an attack run: each crafted file (made by a generator in
tests/hostile.py) with its expected one-line outcome and a memory bound. Time is bounded,
not measured: the reader's own 20 s limit ends a hang, and the expected outcome is never
the time-out, so a file that only finished by the clock fails its case.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from generator.formats.docx.fill import fill_docx
from generator.formats.pdf.fill import fill_pdf
from tests import hostile
from tests.hostile import run_cli_measured

#: What any hostile file may cost in memory: well under the child's 768 MB cap.
MAX_MB = 400
NOTES = "final_review.review.self_assessment"
#: The old date-of-birth pattern took quadratic time over the spaces (past the 20 s time-out).
SLOW_DATE = "DOB 04/07/1941" + " " * 100_000 + "end"


@pytest.fixture(scope="module")
def pack_pdf(pdf_path) -> bytes:
    return pdf_path.read_bytes()


@pytest.fixture(scope="module")
def pack_docx(docx_path) -> bytes:
    return docx_path.read_bytes()


def read(tmp_path: Path, name: str, data: bytes):
    path = tmp_path / name
    path.write_bytes(data)
    run = run_cli_measured("read", str(path))
    assert run.peak_mb < MAX_MB, run.peak_mb
    assert "took longer than" not in run.err, run.err
    return run


def refused(tmp_path: Path, name: str, data: bytes, reason: str) -> None:
    run = read(tmp_path, name, data)
    assert (run.code, run.out, run.err) == (1, "", f"Error: {name}: {reason}\n")


@pytest.mark.parametrize("fmt", ["pdf", "docx"])
def test_a_date_followed_by_100000_spaces_is_read_and_flagged(tmp_path, pack_pdf, pack_docx, fmt):
    data = fill_pdf(pack_pdf, {NOTES: SLOW_DATE}) if fmt == "pdf" else fill_docx(pack_docx, {NOTES: SLOW_DATE}, "x")
    run = read(tmp_path, f"slow.{fmt}", data)
    assert run.code == 0, run.err
    assert json.loads(run.out)["flags"] == [{"field": NOTES, "kind": "date_of_birth"}]
    assert run.err == f"review: {NOTES}: possible date of birth (value not shown)\n"


def test_a_cyclic_parent_chain_is_refused_at_once_in_one_line(tmp_path, pack_pdf):
    refused(tmp_path, "loop.pdf", hostile.cyclic_parent_pdf(pack_pdf), "its form is damaged and cannot be read; ask for the copy again, saved once more from the program it was filled in")


def test_macros_named_in_another_letter_case_are_refused(tmp_path, pack_docx):
    refused(tmp_path, "macro.docx", hostile.docm_in_other_case(pack_docx),
            "contains macros (.docm); save it as a Word Document (.docx) and send that")


def test_a_docm_file_is_refused_even_without_macros(tmp_path, pack_docx):
    refused(tmp_path, "plain.DOCM", pack_docx,
            "is a macro-enabled Word file (.docm); save it as a Word Document (.docx) and send that")


def test_parts_whose_names_differ_only_in_case_are_refused(tmp_path, pack_docx):
    refused(tmp_path, "twice.docx", hostile.docx_with_parts_differing_in_case(pack_docx),
            "has two parts named 'WORD/DOCUMENT.XML' and 'word/document.xml' (part names ignore case in a Word "
            "file); refused as tampered")


def test_a_central_directory_that_lies_about_sizes_is_refused(tmp_path, pack_docx):
    refused(tmp_path, "liar.docx", hostile.docx_lying_central_directory(pack_docx),
            "is damaged: part word/document.xml cannot be unpacked (BadZipFile); ask for the copy again, saved once more from the program it was filled in")
