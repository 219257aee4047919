"""Names from manifests, rosters and file names reach the terminal escaped: no ANSI escape
sequence is sent and no line is forged."""

from __future__ import annotations

from click.testing import CliRunner

from generator.cli import main
from generator.cli.common import shown
from generator.records.connect import open_store
from tests.records.test_store import submission


def test_shown_escapes_control_and_format_characters():
    assert shown("plain Zoë Łukasiewicz") == "plain Zoë Łukasiewicz"
    assert shown("\x1b[2J\x1b[31mred") == "\\x1b[2J\\x1b[31mred"
    assert shown("a.pdf\nnew        forged.pdf") == "a.pdf\\nnew        forged.pdf"
    assert shown("x\ry\tz\x7f") == "x\\ry\\tz\\x7f"
    assert shown("abc\u202edcba") == "abc\\u202edcba"  # right-to-left override
    assert shown("line one\nline two", keep_newlines=True) == "line one\nline two"


def test_records_prints_names_from_copies_escaped(tmp_path):
    with open_store(tmp_path / "r.sqlite") as store:
        with store.transaction():
            store.add_submission(submission(learner_name="Zoë\x1b[2J\nFAKE LINE", practice="Riverside\x07"), 1, None)
    result = CliRunner().invoke(main, ["records", "--store", str(tmp_path / "r.sqlite")])
    assert result.exit_code == 0, result.output
    assert "\x1b" not in result.output and "\x07" not in result.output
    assert result.output.splitlines()[0] == "Zoë\\x1b[2J\\nFAKE LINE (Riverside\\x07, riverside-pcn)"


def test_read_errors_name_the_file_escaped(tmp_path):
    bad = tmp_path / "evil\x1b[31m\nOK.pdf"
    bad.write_bytes(b"not a pdf")
    result = CliRunner().invoke(main, ["read", str(bad)])
    assert result.exit_code == 1
    assert result.output.startswith("Error: evil\\x1b[31m\\nOK.pdf: is not a PDF or Word (.docx) file: check")
    assert result.output.count("\n") == 1
