"""Fuzzing the readers: damaged copies give a Record or a ReadError, never anything else.

Runs briefly by default; set FUZZ_EXAMPLES (e.g. 5000) to fuzz for longer:
    FUZZ_EXAMPLES=5000 pytest tests/reading/test_fuzz.py
"""

from __future__ import annotations

import io
import os
import re
import zipfile
from datetime import date

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from generator.errors import ReadError
from generator.formats.pdf.fill import fill_pdf
from generator.reading.read import read_bytes

ISO = re.compile(r"^\d{4}-\d{2}-\d{2}$")
EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "40"))
SETTINGS = settings(max_examples=EXAMPLES, deadline=None, derandomize=EXAMPLES <= 100,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture,
                                           HealthCheck.data_too_large])


@pytest.fixture(scope="module")
def filled_pdf(pdf_path, form):
    return fill_pdf(pdf_path.read_bytes(), {"cover.details.name": "Zoë", "patient_feedback.ratings.respect": "happy"})


@pytest.fixture(scope="module")
def docx_bytes(docx_path):
    return docx_path.read_bytes()


def mutations(size: int):
    """A list of (position, replacement bytes) edits, or a cut."""
    edit = st.tuples(st.integers(0, size - 1), st.binary(min_size=1, max_size=16))
    return st.one_of(st.lists(edit, min_size=1, max_size=8).map(lambda e: ("edit", e)),
                     st.integers(1, size - 1).map(lambda n: ("cut", n)))


def apply(data: bytes, mutation) -> bytes:
    kind, arg = mutation
    if kind == "cut":
        return data[:arg]
    out = bytearray(data)
    for position, replacement in arg:
        out[position:position + len(replacement)] = replacement
    return bytes(out)


#: What a typed value may be, per field kind (written here, not taken from the code under test).
TYPES = {"text": (str,), "longtext": (str,), "signature": (str,), "date": (str,), "checkbox": (bool,),
         "yesno": (bool,), "choice": (str,)}


def read_or_reject(data: bytes, name: str) -> None:
    """A one-line ReadError naming the file, or a Record whose every value fits its field."""
    try:
        record = read_bytes(data, name)
    except ReadError as exc:
        assert exc.file == name
        assert exc.reason.strip() and "\n" not in exc.reason and "Traceback" not in exc.reason, exc.reason
        assert str(exc) == f"{name}: {exc.reason}"
        return
    definitions = {d["id"]: d for d in record.definitions}
    assert definitions and set(record.fields) == set(definitions)
    for fid, value in record.fields.items():
        kind = definitions[fid]["kind"]
        if kind == "checkbox":
            assert isinstance(value, bool), (fid, value)
        elif value is not None:
            assert isinstance(value, TYPES[kind]), (fid, kind, value)
        if kind == "choice" and value is not None:
            assert value in [o["value"] for o in definitions[fid]["options"]], (fid, value)
        if isinstance(value, str):
            assert value.strip() and "\r" not in value, (fid, value)
        if kind == "date" and isinstance(value, str) and ISO.match(value):
            date.fromisoformat(value)  # an ISO date is a real one
    for fid, position in record.positions.items():
        options = definitions[fid]["options"]
        assert 1 <= position <= len(options) and options[position - 1]["value"] == record.fields[fid]
    assert set(record.missing) <= set(definitions)
    assert not set(record.unmapped) & set(definitions)
    assert all(isinstance(w, str) and w.strip() for w in record.warnings)
    assert all(f.field in record.fields or f.field in record.unmapped for f in record.flags)


@given(data=st.data())
@SETTINGS
def test_damaged_pdf_copies(filled_pdf, data):
    read_or_reject(apply(filled_pdf, data.draw(mutations(len(filled_pdf)))), "fuzz.pdf")


@given(data=st.data())
@SETTINGS
def test_damaged_docx_packages(docx_bytes, data):
    read_or_reject(apply(docx_bytes, data.draw(mutations(len(docx_bytes)))), "fuzz.docx")


@given(data=st.data())
@SETTINGS
def test_damaged_docx_document_xml(docx_bytes, data):
    """Mutate the XML inside an intact zip, so the XML parser and the control reader are fuzzed too."""
    source = zipfile.ZipFile(io.BytesIO(docx_bytes))
    document = source.read("word/document.xml")
    mutated = apply(document, data.draw(mutations(len(document))))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as target:
        for info in source.infolist():
            target.writestr(info.filename, mutated if info.filename == "word/document.xml" else source.read(info))
    read_or_reject(out.getvalue(), "fuzz.docx")
