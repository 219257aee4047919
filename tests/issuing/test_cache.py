"""The render cache: a second build with nothing changed renders nothing and says so."""

from __future__ import annotations

import shutil

import pytest
from click.testing import CliRunner

from generator.cli.common import main
from generator.content.layout import Layout
from generator.content.loader import DEFAULT_CONTENT_DIR
from generator.content.theme import Theme
from generator.issuing import cache
from generator.issuing.build import build_pack

THEME = Theme(organisation="Org", primary="#005EB8", accent="#41B6E6", footer="f")
MANIFEST = {"format": "portfolio-manifest/1", "instance_id": "a", "created": "2026-11-01T09:00:00+00:00",
            "content": {"hash": "1" * 64}, "fields": []}


def key(**changes) -> str:
    args = {"fmt": "pdf", "manifest": MANIFEST, "layout": Layout(), "theme": THEME, "values": None, "pcn": "",
            "templates": "t"}
    args.update(changes)
    return cache.render_key(**args)


def test_key_ignores_the_instance_id_and_creation_time():
    assert key() == key(manifest={**MANIFEST, "instance_id": "b", "created": "2027-01-01T00:00:00+00:00"})


@pytest.mark.parametrize("change", [
    {"fmt": "docx"},
    {"manifest": {**MANIFEST, "content": {"hash": "2" * 64}}},  # content edited
    {"layout": Layout(pcn="Riverside PCN")},  # another profile
    {"layout": Layout(optional_sections=frozenset({"pcsp"}))},
    {"theme": Theme(organisation="Org", primary="#000000", accent="#41B6E6", footer="f")},
    {"theme": Theme(organisation="Org", primary="#005EB8", accent="#41B6E6", footer="f", logo=b"\x89PNG")},
    {"values": {"cover.details.name": "Zoë"}},
    {"templates": "u"},  # a template edited
])
def test_key_changes_with_every_input(change):
    assert key(**change) != key()


def test_sets_do_not_make_the_key_depend_on_their_order():
    a = Layout(optional_sections=frozenset(["pcsp", "mdt_review"]))
    b = Layout(optional_sections=frozenset(["mdt_review", "pcsp"]))
    assert key(layout=a) == key(layout=b)


def test_templates_digest_follows_the_files(tmp_path):
    (tmp_path / "pdf").mkdir()
    (tmp_path / "pdf" / "pack.css.j2").write_text("h1 { color: red }")
    first = cache.templates_digest(tmp_path)
    (tmp_path / "pdf" / "pack.css.j2").write_text("h1 { color: blue }")
    assert cache.templates_digest(tmp_path) != first


def test_second_build_renders_nothing_until_an_input_changes(tmp_path, content, theme):
    first = build_pack(tmp_path, content=content, theme=theme, formats=("docx",))
    path = first.outputs["docx"]
    assert first.unchanged == [] and cache.key_file(path).exists()
    written = path.read_bytes()
    second = build_pack(tmp_path, content=content, theme=theme, formats=("docx",))
    assert second.unchanged == ["docx"] and second.timings.get("docx") is None
    assert path.read_bytes() == written  # the file on disk is kept as it was
    third = build_pack(tmp_path, content=content, theme=theme.with_overrides(primary="#330072"), formats=("docx",))
    assert third.unchanged == [] and path.read_bytes() != written
    forced = build_pack(tmp_path, content=content, theme=theme.with_overrides(primary="#330072"),
                        formats=("docx",), cache=False)
    assert forced.unchanged == []


def test_a_deleted_or_replaced_file_is_rendered_again(tmp_path, content, theme):
    path = build_pack(tmp_path, content=content, theme=theme, formats=("docx",)).outputs["docx"]
    path.unlink()
    assert build_pack(tmp_path, content=content, theme=theme, formats=("docx",)).unchanged == []
    cache.key_file(path).write_text("not a key\n")
    assert build_pack(tmp_path, content=content, theme=theme, formats=("docx",)).unchanged == []


def test_build_command_says_when_nothing_was_rendered(tmp_path):
    content_dir = tmp_path / "content"
    shutil.copytree(DEFAULT_CONTENT_DIR, content_dir)
    args = ["build", "--content", str(content_dir), "--format", "docx", "--out", str(tmp_path / "out")]
    first = CliRunner().invoke(main, args)
    assert first.exit_code == 0 and first.output.startswith("wrote "), first.output
    second = CliRunner().invoke(main, args)
    assert second.exit_code == 0
    assert second.output == (f"unchanged {tmp_path / 'out' / 'care-coordination-portfolio.docx'} "
                             "(nothing changed since it was built; not rendered again)\n")
    rebuilt = CliRunner().invoke(main, [*args, "--rebuild"])
    assert rebuilt.exit_code == 0 and rebuilt.output.startswith("wrote ")
