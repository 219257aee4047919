"""Originals kept in both engines, ``records --original`` and ``--summary``, and ``store copy`` both ways."""

from __future__ import annotations

import hashlib
import re
from pathlib import Path

import pytest
from click.testing import CliRunner

from generator.cli.common import main
from generator.content.layout import Layout
from generator.formats.docx.fill import fill_docx
from generator.formats.docx.stamp import DocxStamp
from generator.formats.docx.write import write_docx
from generator.model.form import build_form
from generator.model.manifest import make_manifest
from generator.records.connect import open_store
from tests.pg import raw_query


def iid(n: int) -> str:
    return f"00000000-0000-4000-8000-{n:012d}"


@pytest.fixture(scope="module")
def cover_form(content):
    return build_form(content, Layout(only_sections=("cover",)))


@pytest.fixture(scope="module")
def blank_cover(cover_form, theme) -> bytes:
    return write_docx(cover_form, theme, make_manifest(cover_form, instance_id=iid(0)))


def cover_copy(form, blank: bytes, instance: str, name: str, supervisor: str = "Dr A") -> bytes:
    manifest = make_manifest(form, instance_id=instance, learner={"name": name, "practice": "Riverside Surgery"},
                             pcn={"slug": "riverside-pcn", "name": "Riverside PCN"})
    return fill_docx(DocxStamp(blank, []).stamp({}, manifest), {"cover.details.supervisor": supervisor})


def cli(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(main, list(args))
    return result.exit_code, result.output


@pytest.fixture
def returned(tmp_path, cover_form, blank_cover) -> Path:
    """Five returned files: two new copies, a changed copy of the first, a re-send of the second, and junk."""
    folder = tmp_path / "returned"
    folder.mkdir()
    (folder / "ann.docx").write_bytes(cover_copy(cover_form, blank_cover, iid(1), "Ann Example"))
    (folder / "bob.docx").write_bytes(cover_copy(cover_form, blank_cover, iid(2), "Bob Example"))
    (folder / "notes.txt").write_text("not a portfolio")
    (tmp_path / "later").mkdir()
    (tmp_path / "later" / "ann-v2.docx").write_bytes(cover_copy(cover_form, blank_cover, iid(1), "Ann Example",
                                                                supervisor="Dr B"))
    (tmp_path / "issued.csv").write_text("instance_id,learner,practice,pcn\n"
                                         f"{iid(1)},Ann Example,Riverside Surgery,riverside-pcn\n"
                                         f"{iid(3)},Cy Example,Riverside Surgery,riverside-pcn\n", encoding="utf-8")
    return folder


def fill_store(location: str, returned: Path) -> None:
    code, output = cli("ingest", str(returned), "--store", location, "--jobs", "1",
                       "--register", str(returned.parent / "issued.csv"))
    assert code == 1 and "2 new, 0 unchanged, 0 superseded, 0 conflicting, 1 rejected" in output, output
    code, output = cli("ingest", str(returned.parent / "later"), "--store", location, "--jobs", "1")
    assert code == 1 and "1 conflicting" in output, output
    code, output = cli("ingest", str(returned.parent / "later"), "--store", location, "--jobs", "1", "--supersede")
    assert code == 0 and "1 superseded" in output, output


def test_the_returned_file_is_kept_and_fetched_back_exactly(tmp_path, store_location, returned):
    fill_store(store_location, returned)
    sent = (returned.parent / "later" / "ann-v2.docx").read_bytes()
    code, output = cli("records", "--store", store_location, "--original", "3", "-o", str(tmp_path / "back.docx"))
    assert code == 0, output
    assert (tmp_path / "back.docx").read_bytes() == sent
    assert output == (f"wrote {tmp_path / 'back.docx'} (ann-v2.docx, {len(sent)} bytes, "
                      f"SHA-256 {hashlib.sha256(sent).hexdigest()[:12]}…)\n")
    code, output = cli("records", "--store", store_location, "--original", "1")
    assert code == 2 and "--original SUBMISSION and -o FILE go together" in output
    code, output = cli("records", "--store", store_location, "--replace")
    assert code == 2 and "(and --replace with them)" in output


def test_an_unknown_submission_id_points_to_the_one_listing_of_every_id(tmp_path, store_location, returned):
    """--original and --warnings named different commands; the superseded versions' ids are in --all-versions only."""
    fill_store(store_location, returned)
    code, output = cli("records", "--store", store_location, "--original", "9", "-o", str(tmp_path / "x.docx"))
    assert code == 1 and not (tmp_path / "x.docx").exists()
    pointer = "(the submission_id column of 'portfolio export --all-versions' lists every submission id)"
    assert output.startswith("Error: submission 9: not in the records store ") and output.endswith(f"{pointer}\n")
    code, warned = cli("records", "--store", store_location, "--warnings", "9")
    assert code == 1 and warned == output
    # and that listing does hold the superseded version's id, which --original fetches
    code, listed = cli("export", "--store", store_location, "--all-versions")
    assert code == 0 and [line.split(",")[0] for line in listed.splitlines()] == ["submission_id", "1", "2", "3"]


def test_original_keeps_an_existing_file_unless_replace(tmp_path, store_location, returned):
    fill_store(store_location, returned)
    kept = tmp_path / "ann.docx"
    kept.write_bytes(b"another returned copy")
    code, output = cli("records", "--store", store_location, "--original", "1", "-o", str(kept))
    assert code == 2 and kept.read_bytes() == b"another returned copy"
    assert (f"Invalid value for --output: {kept} already exists; nothing was written. Name another -o FILE, or add "
            "--replace to write over it") in " ".join(output.split())
    link = tmp_path / "link.docx"  # a link to a file: writing would replace what it names, so it is kept too
    link.symlink_to(kept)
    code, output = cli("records", "--store", store_location, "--original", "1", "-o", str(link))
    assert code == 2 and "already exists; nothing was written" in output and link.is_symlink()
    code, output = cli("records", "--store", store_location, "--original", "1", "-o", str(kept), "--replace")
    assert code == 0 and kept.read_bytes() == (returned / "ann.docx").read_bytes(), output
    code, output = cli("records", "--store", store_location, "--original", "1", "-o", "/dev/null")
    assert code == 0, output  # a device is written into, never replaced: nothing to keep


def test_the_summary_counts_what_the_store_holds_and_the_originals_size(store_location, returned):
    fill_store(store_location, returned)
    sizes = sum(len(p.read_bytes()) for p in (returned / "ann.docx", returned / "bob.docx",
                                                returned.parent / "later" / "ann-v2.docx"))
    code, output = cli("records", "--summary", "--store", store_location)
    assert code == 0, output
    lines = output.splitlines()
    assert re.fullmatch(r"store          \S+ \(schema \d+\)", lines[0])
    assert lines[1:4] == ["submissions    3 (2 current, 1 superseded)",
                          "learners       3 (2 with returned copies, 2 on issue registers)",
                          "issued files   2"]
    assert lines[5] == "audit entries  6 (1 conflict, 2 ingested, 1 register, 1 rejected, 1 superseded)"
    assert lines[6] == f"originals      3 files, {sizes / 1000:.1f} kB"


def snapshot(location: str) -> dict:
    """Everything a store holds, as the protocol gives it."""
    with open_store(location, create=False) as store:
        every = store.submissions(current_only=False)
        return {"submissions": every, "values": store.values(), "warnings": store.warnings(),
                "flags": store.flags(), "definitions": store.definitions(), "issued": store.issued(),
                "audit": store.audit(), "originals": {s.sha256: store.original(s.sha256) for s in every}}


def test_store_copy_sqlite_to_postgresql_and_back_keeps_everything(tmp_path, pg_url, returned):
    sqlite_store = str(tmp_path / "records.sqlite")
    fill_store(sqlite_store, returned)
    before = snapshot(sqlite_store)
    assert len(before["originals"]) == 3 and all(before["originals"].values())
    code, output = cli("store", "copy", sqlite_store, pg_url)
    assert code == 0, output
    lines = output.splitlines()
    assert lines[1].split()[:5] == ["submissions", "3", "copied,", "3", "in"]
    assert lines[-1].endswith("counts and hashes match")
    assert snapshot(pg_url) == before
    # Rerunning copies nothing twice.
    code, output = cli("store", "copy", sqlite_store, pg_url)
    assert code == 0 and output.splitlines()[-1].startswith("copied 0 row(s)"), output
    # New rows in the server store get numbers after the copied ones.
    with open_store(pg_url) as store:
        with store.transaction():
            store.add_audit("note", detail="after the copy")
        assert store.audit()[-1].id == before["audit"][-1].id + 1
    # And back into a new SQLite file.
    back = str(tmp_path / "back.sqlite")
    code, output = cli("store", "copy", pg_url, back)
    assert code == 0, output
    again = snapshot(back)
    assert again["submissions"] == before["submissions"] and again["values"] == before["values"]
    assert again["originals"] == before["originals"] and again["audit"][:-1] == before["audit"]


def test_store_copy_into_a_store_with_other_records_is_refused_and_writes_nothing(tmp_path, pg_url, returned,
                                                                                  cover_form, blank_cover):
    sqlite_store = str(tmp_path / "records.sqlite")
    fill_store(sqlite_store, returned)
    (tmp_path / "other").mkdir()
    (tmp_path / "other" / "dee.docx").write_bytes(cover_copy(cover_form, blank_cover, iid(9), "Dee Example"))
    code, output = cli("ingest", str(tmp_path / "other"), "--store", pg_url, "--jobs", "1")
    assert code == 0, output
    code, output = cli("store", "copy", sqlite_store, pg_url)
    assert code == 1 and output.count("\n") == 1, output
    # The first table checked is the definitions: the same form's, first seen at another time.
    assert re.fullmatch(r"Error: postgresql://\S+: holds other records than the source \(definitions [0-9a-f]{64} "
                        r"differs\); copy into a new, empty store\n", output), output
    assert raw_query(pg_url, "SELECT COUNT(*) FROM submissions") == [(1,)]
    assert raw_query(pg_url, "SELECT COUNT(*) FROM audit_log") == [(1,)]
