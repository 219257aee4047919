"""Orchestration: content folder -> PDF and Word packs on disk.

In: where the content is, the PCN layout and theme, which formats, and who the
copy is for. Out: a ``BuildResult`` with the form model, the manifest, the files
written and how long each stage took. Files appear whole or not at all (each is
written to a temporary name and renamed). When every requested file is already
on disk and was rendered from the same inputs (``cache.render_key``: content,
profile, theme, templates, generator version), nothing is rendered and
``BuildResult.unchanged`` lists those formats.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Mapping

from generator.content.layout import Layout
from generator.content.loader import Content, load_content
from generator.content.theme import Theme, load_theme
from generator.files import write_atomic
from generator.model.form import Form, build_form
from generator.model.manifest import make_manifest

FORMATS = ("pdf", "docx")


def _writer(fmt: str) -> Callable[..., bytes]:
    # Imported on demand: WeasyPrint takes a while to import and `check` needs neither.
    if fmt == "pdf":
        from generator.formats.pdf.write import write_pdf
        return write_pdf
    from generator.formats.docx.write import write_docx
    return write_docx


@dataclass
class BuildResult:
    form: Form
    manifest: dict[str, Any]
    outputs: dict[str, Path] = field(default_factory=dict)
    timings: dict[str, float] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)  # formats not rendered: the file on disk is current


def pack_basename(pack_id: str, layout: Layout) -> str:
    """The file name (without extension) of a pack built with ``layout``: the pack id, then
    ``+form`` for each optional form switched on, so a fuller pack never takes the default's name.
    ``care-coordination-portfolio+mdt_review+pcsp`` for example."""
    return pack_id + "".join(f"+{name}" for name in sorted(layout.optional_sections))


def render_pack(form: Form, theme: Theme, manifest: Mapping[str, Any], fmt: str,
                values: Mapping[str, Any] | None = None, pcn: str = "") -> bytes:
    """One document's bytes in ``fmt`` (pdf or docx)."""
    return _writer(fmt)(form, theme, manifest, values, pcn)


def build_pack(out_dir: Path | str, *, content: Content | None = None, content_dir: Path | str | None = None,
               layout: Layout | None = None, theme: Theme | None = None,
               formats: tuple[str, ...] = FORMATS, basename: str | None = None,
               values: Mapping[str, Any] | None = None, learner: dict[str, str] | None = None,
               instance_id: str | None = None, cache: bool = True) -> BuildResult:
    """Build the pack into ``out_dir``; returns what was written and the timings.
    With ``cache`` (the default), files already rendered from the same inputs are kept as they are."""
    from generator.issuing.cache import is_current, remember, render_key

    timings: dict[str, float] = {}
    start = time.perf_counter()
    content = content or load_content(content_dir)
    layout = layout or Layout()
    theme = theme or load_theme()
    form = build_form(content, layout)
    timings["model"] = time.perf_counter() - start
    pcn = {"name": layout.pcn} if layout.pcn else {}
    manifest = make_manifest(form, instance_id=instance_id, learner=learner, pcn=pcn)
    result = BuildResult(form, manifest, timings=timings)
    name = basename or pack_basename(content.id, layout)
    paths = {fmt: Path(out_dir) / f"{name}.{fmt}" for fmt in formats}
    keys = {fmt: render_key(fmt, manifest, layout, theme, values, layout.pcn) for fmt in formats}
    if cache and all(is_current(paths[fmt], keys[fmt]) for fmt in formats):
        # All or nothing: the PDF and Word files of one build share one manifest (instance id).
        result.unchanged = list(formats)
        result.outputs = dict(paths)
        return result
    rendered: dict[str, bytes] = {}
    for fmt in formats:
        start = time.perf_counter()
        rendered[fmt] = render_pack(form, theme, manifest, fmt, values, layout.pcn)
        timings[fmt] = time.perf_counter() - start
    for fmt, data in rendered.items():  # written only once every format has rendered
        write_atomic(paths[fmt], data)
        remember(paths[fmt], keys[fmt])
        result.outputs[fmt] = paths[fmt]
    return result
