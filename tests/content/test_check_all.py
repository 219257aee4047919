"""`portfolio check` lists every problem of every file in one run; a key given twice is an error."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner

from generator.cli.common import main
from generator.content.loader import DEFAULT_CONTENT_DIR, load_content
from generator.content.profile import load_profile
from generator.errors import ContentError


@pytest.fixture
def content_dir(tmp_path: Path) -> Path:
    target = tmp_path / "content"
    shutil.copytree(DEFAULT_CONTENT_DIR, target)
    return target


def messages(call) -> list[str]:
    with pytest.raises(ContentError) as info:
        call()
    return [str(p) for p in info.value.problems]


def replace_in(path: Path, old: str, new: str) -> None:
    text = path.read_text(encoding="utf-8")
    assert old in text
    path.write_text(text.replace(old, new, 1), encoding="utf-8")


def test_a_field_with_two_mistakes_shows_both(content_dir):
    replace_in(content_dir / "cover.yaml", '{id: name, label: "Name", kind: text}',
               '{id: name, lable: "Name", kind: txt}')
    assert messages(lambda: load_content(content_dir)) == [
        "cover.yaml: blocks[0].fields[0].lable: unknown key 'lable' (allowed here: hint, id, kind, label, lines, "
        "options)",
        "cover.yaml: blocks[0].fields[0].label: missing 'label' (add it)",
        "cover.yaml: blocks[0].fields[0].kind: unknown kind 'txt' (use one of: text, longtext, date, checkbox, "
        "yesno, choice, signature)"]


def test_problems_in_pack_yaml_and_in_sections_come_in_one_run(content_dir):
    replace_in(content_dir / "pack.yaml", "\nsections:", "\nauthor: me\nsections:")
    replace_in(content_dir / "cover.yaml", "kind: date}", "kind: when}")
    found = messages(lambda: load_content(content_dir))
    assert [m.split(":")[0] for m in found] == ["pack.yaml", "cover.yaml"]
    assert found[0].startswith("pack.yaml: author: unknown key 'author'")
    assert found[1].startswith("cover.yaml: blocks[0].fields[5].kind: unknown kind 'when'")


def test_a_key_given_twice_names_both_lines(content_dir):
    path = content_dir / "pcns" / "riverside-pcn" / "profile.yaml"
    replace_in(path, '  accent: "#78BE20"\n', '  accent: "#78BE20"\n  primary: "#88CCEE"\n')
    found = messages(lambda: load_profile("riverside-pcn", load_content(content_dir)))
    assert found[0] == ("pcns/riverside-pcn/profile.yaml: line 12: duplicate key 'primary' (first on line 10); "
                        "keep one of them")


def test_a_key_given_twice_in_a_section_file(content_dir):
    replace_in(content_dir / "cover.yaml", "short_title: Cover\n", "short_title: Cover\nshort_title: Front\n")
    [message] = messages(lambda: load_content(content_dir))
    assert message == "cover.yaml: line 4: duplicate key 'short_title' (first on line 3); keep one of them"


def test_check_command_prints_every_problem_of_every_file(content_dir):
    replace_in(content_dir / "cover.yaml", '{id: name, label: "Name", kind: text}',
               '{id: Name, label: "Name", kind: txt}')
    replace_in(content_dir / "values.yaml", "blocks:", "colour: red\nblocks:")
    result = CliRunner().invoke(main, ["check", "--content", str(content_dir)])
    assert result.exit_code == 1
    lines = result.output.splitlines()
    assert lines[-1] == "Error: 3 problems found"
    assert any(line.startswith("cover.yaml: blocks[0].fields[0].id: invalid id 'Name'") for line in lines)
    assert any(line.startswith("cover.yaml: blocks[0].fields[0].kind: unknown kind 'txt'") for line in lines)
    assert any(line.startswith("values.yaml: colour: unknown key 'colour'") for line in lines)


def test_form_problems_and_profile_problems_come_in_one_run(content_dir):
    from generator import api
    replace_in(content_dir / "pcns" / "riverside-pcn" / "profile.yaml", 'primary: "#00614E"', 'primary: "#88CCEE"')
    cover = content_dir / "cover.yaml"
    replace_in(cover, '{id: practice, label: "Practice", kind: text}', '{id: practice, label: "Name", kind: text}')
    found = messages(lambda: api.check(content_dir))
    assert [m.split(":")[0] for m in found] == ["cover.yaml", "pcns/riverside-pcn/profile.yaml"]
    assert "label 'Cover: Name' is the same as field 'cover.details.name'" in found[0]
    assert found[1].startswith("pcns/riverside-pcn/profile.yaml: colours.primary: primary colour #88CCEE")
