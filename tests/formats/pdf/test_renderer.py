"""WeasyPrint is imported without running child processes to find its libraries, and ends up with
the same libraries as an ordinary import (``generator.formats.pdf.renderer``)."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from tests.conftest import ROOT

PROBE = """
import json, sys
spawned = []
sys.addaudithook(lambda event, args: spawned.append(str(args[0])) if event == "subprocess.Popen" else None)
{load}
with open("/proc/self/maps") as maps:
    libraries = sorted({{line.split()[-1].rsplit("/", 1)[-1] for line in maps
                        if any(k in line for k in ("libpango", "libharfbuzz", "libfontconfig", "libgobject"))}})
print(json.dumps({{"spawned": spawned, "libraries": libraries}}))
"""


def probe(load: str) -> dict:
    done = subprocess.run([sys.executable, "-c", PROBE.format(load=load)], cwd=ROOT, capture_output=True, text=True,
                          timeout=120, env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert done.returncode == 0, done.stderr[-2000:]
    return json.loads(done.stdout.splitlines()[-1])


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="the library search is skipped on Linux only")
def test_the_writer_loads_weasyprint_without_child_processes_and_with_the_same_libraries():
    ours = probe("import generator.formats.pdf.write")
    plain = probe("import weasyprint")
    assert ours["spawned"] == []
    assert {"libpango-1.0.so.0", "libharfbuzz.so.0", "libfontconfig.so.1", "libgobject-2.0.so.0"} <= {
        name.split(".so")[0] + ".so." + name.split(".so.")[1].split(".")[0] for name in ours["libraries"]}
    assert ours["libraries"] == plain["libraries"]


# ------------------------------------------------------------------ parsing the pack's HTML with expat

def _same_tree(ours, theirs, path="html") -> str:
    """'' when the two element trees are equal (tags, attributes, text and tails), else where not."""
    if (ours.tag, dict(ours.attrib), ours.text or "", ours.tail or "") != (
            theirs.tag, dict(theirs.attrib), theirs.text or "", theirs.tail or ""):
        return f"{path}: {ours.tag} {dict(ours.attrib)} {ours.text!r} {ours.tail!r} != " \
               f"{theirs.tag} {dict(theirs.attrib)} {theirs.text!r} {theirs.tail!r}"
    if len(ours) != len(theirs):
        return f"{path}: {[c.tag for c in ours]} != {[c.tag for c in theirs]}"
    for index, (mine, other) in enumerate(zip(ours, theirs)):
        if found := _same_tree(mine, other, f"{path}/{mine.tag}[{index}]"):
            return found
    return ""


def _weasyprint_tree(html: str):
    import tinyhtml5  # what weasyprint.HTML(string=...) parses with, and how
    return tinyhtml5.parse(html, namespace_html_elements=False)


def _packs(content, form, full_form, theme):
    """The pack's HTML for the default pack, the full pack and a PCN's branded cover (logo,
    PCN name, cover values with markup characters, a return date)."""
    from dataclasses import replace

    from generator.content.profile import load_profile
    from generator.formats.pdf.write import render_html

    profile = load_profile("riverside-pcn", content)
    layout = replace(profile.layout, optional_sections=frozenset({"mdt_review", "pcsp"}))
    from generator.model.form import build_form
    pcn_form = build_form(content, layout)
    values = {field.id: 'Ann <O\'Neil> & "Co" · Zoë' for field in pcn_form.fields if field.kind == "text"}
    values.update({field.id: "Two lines\nof text" for field in pcn_form.fields if field.kind == "longtext"})
    values.update({field.id: True for field in pcn_form.fields if field.kind == "checkbox"})
    return {"default": render_html(form, theme), "full": render_html(full_form, theme),
            "pcn": render_html(pcn_form, profile.theme, values, pcn=layout.pcn, return_by="31/03/2026")}


def test_the_packs_html_parses_with_expat_into_the_tree_weasyprint_builds(content, form, full_form, theme):
    from generator.formats.pdf.renderer import xml_tree

    for name, html in _packs(content, form, full_form, theme).items():
        ours = xml_tree(html)
        assert ours is not None, name  # the fast path is taken for every pack
        assert _same_tree(ours, _weasyprint_tree(html)) == "", name
        assert ours.find("head/style").text.startswith("/* Print styles")


@pytest.mark.parametrize("markup, why", [
    ('<html><head></head><body><input title="a\nb" /></body></html>', "a line break in an attribute"),
    ('<html><head></head><body><input title="a\tb" /></body></html>', "a tab in an attribute"),
    ('<html><head></head><body><p>a\rb</p></body></html>', "a carriage return"),
    ('<html><head></head><body><textarea>\nx</textarea></body></html>', "a line break opening a textarea"),
    ('<html><head></head><body><p>a&nbsp;b</p></body></html>', "an entity XML does not know"),
    ('<html><head></head><body><!-- note --><p>a</p></body></html>', "a comment"),
    ('<html><head></head><body><p>a<br></p></body></html>', "not well-formed"),
    ('<html><head><base href="http://example.org/" /></head><body></body></html>', "a base URL"),
    ('<html><head></head><body></body>\n</html>', "text after the body"),
    ('<html><head></head><body><p>\x00</p></body></html>', "a NUL"),
    ('<html><head><style>p {}</style></head><body><style>q { content: "&amp;" }</style></body></html>',
     "a second stylesheet"),
    ('<html><head></head><body><script>if (a &amp;&amp; b) {}</script></body></html>', "a script"),
])
def test_markup_an_xml_parser_reads_differently_is_left_to_weasyprint(markup, why):
    from generator.formats.pdf.renderer import html_document, xml_tree

    assert xml_tree(markup) is None, why
    document = html_document(markup, "file:///")
    assert type(document).__name__ == "HTML", why  # WeasyPrint's own class, which parsed it
    assert _same_tree(document.etree_element, _weasyprint_tree(markup)) == "", why


def test_the_stylesheet_is_kept_as_raw_text():
    from generator.formats.pdf.renderer import xml_tree

    markup = '<!DOCTYPE html>\n<html lang="en">\n<head><style>p { content: "a > b" }</style></head><body><p>x</p></body></html>'
    tree = xml_tree(markup)
    assert tree.find("head/style").text == 'p { content: "a > b" }'
    assert _same_tree(tree, _weasyprint_tree(markup)) == ""
    raw = markup.replace("a > b", "a &amp; b")  # raw text to HTML: no entity is read in a stylesheet
    assert xml_tree(raw).find("head/style").text == 'p { content: "a &amp; b" }'
    assert _same_tree(xml_tree(raw), _weasyprint_tree(raw)) == ""
    assert xml_tree(markup.replace('"a > b"', "</p>")) is None


def test_a_pack_rendered_from_either_parse_is_the_same_pdf(form, theme, manifest):
    """Every object of the PDF is the same whichever parser built the tree (only the dates of
    writing, and the file identifier made from them, differ)."""
    import io

    import pikepdf

    from generator.formats.pdf import renderer, write

    fast = write.write_pdf(form, theme, manifest)
    plain_document = renderer.html_document
    try:
        write.html_document = lambda html, base_url: renderer.HTML(string=html, base_url=base_url)
        plain = write.write_pdf(form, theme, manifest)
    finally:
        write.html_document = plain_document

    def objects(data: bytes) -> list[bytes]:
        out = []
        with pikepdf.open(io.BytesIO(data)) as pdf:
            for obj in pdf.objects:
                if isinstance(obj, pikepdf.Dictionary):
                    for key in ("/CreationDate", "/ModDate"):
                        if key in obj:
                            del obj[key]
                    if "/Params" in obj and isinstance(obj.Params, pikepdf.Dictionary):
                        for key in ("/CreationDate", "/ModDate"):
                            if key in obj.Params:
                                del obj.Params[key]
                out.append(obj.unparse() if not isinstance(obj, pikepdf.Stream)
                           else obj.unparse() + obj.read_raw_bytes())
        return out

    ours, theirs = objects(fast), objects(plain)
    assert len(ours) == len(theirs) > 1000
    assert [n for n, (a, b) in enumerate(zip(ours, theirs)) if a != b] == []
