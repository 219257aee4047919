"""Ingest checks a file's hash against the store before reading it: a stored file is never read again."""

from __future__ import annotations

import hashlib

from generator.formats.pdf.fill import fill_pdf
from generator.reading.sandbox import Limits
from generator.records import ingest as ingest_module
from generator.records.connect import open_store
from generator.records.ingest import ingest


#: Reading limits for this test: the same caps, with time for a busy machine (a hang is still bounded).
SLOW_MACHINE = Limits(seconds=600)


def _no_reading(data: bytes, name: str, *args):
    raise AssertionError(f"{name} was read again")


def test_a_stored_file_is_recognised_by_its_hash_without_being_read(tmp_path, pdf_path, monkeypatch):
    copy = tmp_path / "zoe.pdf"
    copy.write_bytes(fill_pdf(pdf_path.read_bytes(), {"cover.details.name": "Zoë Łukasiewicz"}))
    again = tmp_path / "again" / "zoe-renamed.pdf"
    again.parent.mkdir()
    again.write_bytes(copy.read_bytes())
    with open_store(tmp_path / "records.sqlite") as store:
        [first] = ingest([copy], store, jobs=1, limits=SLOW_MACHINE).files
        assert first.status == "new" and first.sha256 == hashlib.sha256(copy.read_bytes()).hexdigest()
        monkeypatch.setattr(ingest_module, "read_copy", _no_reading)
        for jobs in (1, 2):
            [second] = ingest([again], store, jobs=jobs).files
            assert (second.status, second.reason, second.previous_id) == (
                "unchanged", f"already ingested (submission {first.submission_id})", first.submission_id)
        assert len(store.submissions(current_only=False)) == 1
