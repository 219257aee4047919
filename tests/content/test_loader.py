"""Content loading and validation: one test per kind of mistake, asserting the message."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest
import yaml

from generator.content.loader import DEFAULT_CONTENT_DIR, load_content
from generator.errors import ContentError, TemplateError
from generator.model.form import build_form


@pytest.fixture
def content_copy(tmp_path: Path) -> Path:
    target = tmp_path / "content"
    shutil.copytree(DEFAULT_CONTENT_DIR, target)
    return target


def edit(folder: Path, name: str, change) -> None:
    path = folder / name
    data = yaml.safe_load(path.read_text())
    change(data)
    path.write_text(yaml.safe_dump(data, sort_keys=False, allow_unicode=True))


def messages(folder: Path) -> list[str]:
    with pytest.raises(ContentError) as info:
        load_content(folder)
    return [str(p) for p in info.value.problems]


def block(data: dict, block_id: str) -> dict:
    return next(b for b in data["blocks"] if b.get("id") == block_id)


def test_shipped_content_is_valid(content):
    assert content.id == "care-coordination-portfolio"
    assert content.hash.startswith("sha256:")
    assert list(content.sections)[:2] == ["cover", "welcome"]


def test_unknown_key_names_file_path_and_allowed_keys(content_copy):
    edit(content_copy, "values.yaml", lambda d: block(d, "worksheet").update(colour="red"))
    [msg] = messages(content_copy)
    assert msg.startswith("values.yaml: blocks[")
    assert ".colour: unknown key 'colour' (allowed here: " in msg


def test_duplicate_row_id_points_at_first(content_copy):
    def dup(d):
        rows = block(d, "worksheet")["rows"]
        rows[3]["id"] = rows[1]["id"]
    edit(content_copy, "values.yaml", dup)
    [msg] = messages(content_copy)
    assert re.fullmatch(r"values\.yaml: blocks\[(\d)\]\.rows\[3\]\.id: duplicate 'rights' "
                        r"\(first at blocks\[\1\]\.rows\[1\]\)", msg), msg


def test_missing_label(content_copy):
    edit(content_copy, "cover.yaml", lambda d: block(d, "details")["fields"][0].pop("label"))
    [msg] = messages(content_copy)
    assert msg == "cover.yaml: blocks[0].fields[0].label: missing 'label' (add it)"


def test_unknown_option_list(content_copy):
    def bad(d):
        block(d, "ratings")["options"] = "smileys"
    edit(content_copy, "patient_feedback.yaml", bad)
    [msg] = messages(content_copy)
    assert "patient_feedback.yaml: blocks[" in msg
    assert ".options: unknown option list 'smileys' (pack.yaml option_lists has: respondent, satisfaction_5, yes_no)" in msg


def test_option_list_needs_two_options_with_unique_values(content_copy):
    def bad(d):
        d["option_lists"]["yes_no"] = [{"value": "yes", "label": "Yes"}]
        d["option_lists"]["respondent"][1]["value"] = d["option_lists"]["respondent"][0]["value"]
    edit(content_copy, "pack.yaml", bad)
    msgs = messages(content_copy)
    assert "pack.yaml: option_lists.yes_no: an option list needs at least two options, each {value, label}" in msgs
    assert any(m.startswith("pack.yaml: option_lists.respondent[1].value: duplicate") for m in msgs)


def test_unknown_field_kind(content_copy):
    edit(content_copy, "cover.yaml", lambda d: block(d, "details")["fields"][0].update(kind="email"))
    [msg] = messages(content_copy)
    assert msg.startswith("cover.yaml: blocks[0].fields[0].kind: unknown kind 'email' (use one of: text, longtext")


def test_invalid_id(content_copy):
    edit(content_copy, "cover.yaml", lambda d: block(d, "details")["fields"][0].update(id="Full Name"))
    [msg] = messages(content_copy)
    assert msg.startswith("cover.yaml: blocks[0].fields[0].id: invalid id 'Full Name'")


def test_yaml_syntax_error_names_line(content_copy):
    (content_copy / "resources.yaml").write_text("id: resources\ntitle: [unclosed\n")
    [msg] = messages(content_copy)
    assert msg.startswith("resources.yaml: line ") and "YAML syntax error" in msg


def test_missing_and_unlisted_section_files(content_copy):
    (content_copy / "values.yaml").rename(content_copy / "extra.yaml")
    msgs = messages(content_copy)
    assert "values.yaml: file not found (create it, or remove it from the list that names it)" in msgs
    assert any(m.startswith("extra.yaml: section file is not listed in pack.yaml") for m in msgs)


def test_every_problem_is_reported_at_once(content_copy):
    edit(content_copy, "cover.yaml", lambda d: block(d, "details")["fields"][0].pop("label"))
    edit(content_copy, "values.yaml", lambda d: block(d, "worksheet").update(colour="red"))
    assert len(messages(content_copy)) == 2


def test_yaml_is_data_not_code(content_copy):
    (content_copy / "resources.yaml").write_text("!!python/object/apply:os.system ['true']\n")
    [msg] = messages(content_copy)
    assert msg.startswith("resources.yaml: ") and "YAML syntax error" in msg


def test_unknown_prose_variable_is_an_error(content_copy):
    def bad(d):
        d["blocks"][0]["text"] = "Hello {{ learner_name }}"
    edit(content_copy, "resources.yaml", bad)
    with pytest.raises(TemplateError, match=r"resources.yaml: blocks\[0\]: 'learner_name' is undefined"):
        build_form(load_content(content_copy))


def test_template_injection_is_refused(content_copy):
    def bad(d):
        d["blocks"][0]["text"] = "{{ ''.__class__.__mro__ }}"
    edit(content_copy, "resources.yaml", bad)
    with pytest.raises(TemplateError, match="refused template text"):
        build_form(load_content(content_copy))


def test_counts_come_from_data(content_copy, content):
    """The worksheet heading once said 9 values and listed 8: prose takes the count from the rows."""
    text = build_form(content).sections
    values = next(s for s in text if s.id == "values")
    prose = " ".join(r.text for b in values.blocks if hasattr(b, "prose") for p in b.prose
                     for r in getattr(p, "runs", ()))
    assert "8 key values" in prose

    def drop(d):
        block(d, "worksheet")["rows"].pop()
    edit(content_copy, "values.yaml", drop)
    values = next(s for s in build_form(load_content(content_copy)).sections if s.id == "values")
    prose = " ".join(r.text for b in values.blocks if hasattr(b, "prose") for p in b.prose
                     for r in getattr(p, "runs", ()))
    assert "7 key values" in prose


def test_written_files_get_the_usual_permissions(tmp_path):
    import os

    from generator.files import write_atomic
    path = tmp_path / "out.txt"
    write_atomic(path, b"x")
    mask = os.umask(0)
    os.umask(mask)
    assert path.stat().st_mode & 0o777 == 0o666 & ~mask
