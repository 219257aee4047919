"""A store that cannot be written: ingest says so once, before reading anything; the reading
commands still work on a store in a read-only folder."""

from __future__ import annotations

import os
import subprocess
from contextlib import contextmanager
from pathlib import Path

import pytest
from click.testing import CliRunner

from generator.cli import main
from generator.records.connect import open_store
from generator.records.store import StoreError
from tests.conftest import need_tool
from tests.records.test_store import submission


@contextmanager
def read_only(*paths: Path):
    """Make paths read-only for this user; root ignores file modes, so for root the paths are
    made immutable (chattr +i), which binds root too."""
    root = os.geteuid() == 0
    if root:
        need_tool("chattr")
        subprocess.run(["chattr", "+i", *map(str, paths)], check=True)
    else:
        modes = {p: p.stat().st_mode for p in paths}
        for p in paths:
            p.chmod(0o555 if p.is_dir() else 0o444)
    try:
        yield
    finally:
        if root:
            subprocess.run(["chattr", "-i", *map(str, paths)], check=True)
        else:
            for p, mode in modes.items():
                p.chmod(mode)


@pytest.fixture
def store_file(tmp_path) -> Path:
    folder = tmp_path / "records"
    folder.mkdir()
    path = folder / "r.sqlite"
    with open_store(path) as store:
        with store.transaction():
            store.add_submission(submission(), 1, None)
    return path


def test_ingest_reports_a_read_only_store_once_before_reading_files(tmp_path, store_file):
    returned = tmp_path / "returned"
    returned.mkdir()
    for n in range(3):
        (returned / f"not-a-copy-{n}.pdf").write_bytes(b"%PDF-1.7\nnot really")
    with read_only(store_file):
        result = CliRunner().invoke(main, ["ingest", str(returned), "--store", str(store_file)])
    assert result.exit_code == 1
    assert result.output == (f"Error: {store_file}: the records store is read-only; nothing was read or stored: "
                             "make it writable (chmod u+w) or choose another --store\n")


def test_ingest_reports_a_read_only_folder_once(tmp_path, store_file):
    (tmp_path / "x.pdf").write_bytes(b"%PDF-1.7\n")
    with read_only(store_file.parent):
        result = CliRunner().invoke(main, ["ingest", str(tmp_path / "x.pdf"), "--store", str(store_file)])
    assert result.exit_code == 1 and result.output.count("\n") == 1
    assert "is read-only (the store needs to write its -wal and -shm files beside it)" in result.output


def test_records_export_and_verify_read_a_store_in_a_read_only_folder(store_file):
    runner = CliRunner()
    with read_only(store_file, store_file.parent):
        listing = runner.invoke(main, ["records", "--store", str(store_file)])
        exported = runner.invoke(main, ["export", "--format", "json", "--store", str(store_file)])
        verified = runner.invoke(main, ["store", "verify", "--store", str(store_file)])
    assert listing.exit_code == 0, listing.output
    assert listing.output.startswith("Zoë (Riverside Surgery, riverside-pcn)\n")
    assert exported.exit_code == 0 and '"learner": "Zoë"' in exported.output
    assert verified.exit_code == 0 and "intact: 1 ledger entries" in verified.output
    assert sorted(p.name for p in store_file.parent.iterdir()) == ["r.sqlite"]  # nothing written beside it


def test_a_store_opened_for_reading_refuses_every_write(store_location):
    with open_store(store_location) as store:
        with store.transaction():
            store.add_submission(submission(), 1, None)
    with open_store(store_location, read_only=True) as store:
        with pytest.raises(StoreError, match="opened for reading only"):
            with store.transaction():
                store.add_audit("rejected", filename="x.txt", detail="no")
        assert len(store.audit()) == 0 and len(store.submissions()) == 1


def test_reading_a_missing_store_creates_nothing(tmp_path):
    with pytest.raises(StoreError, match="no records store here"):
        open_store(tmp_path / "none.sqlite", read_only=True)
    assert list(tmp_path.iterdir()) == []
