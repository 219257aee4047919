"""Cover-page preview of a PCN profile, as PNG, for a profile editor.

In: the content, a PCN layout and theme (a loaded profile, or the defaults), a
width in pixels. Out: the PNG bytes of the pack's first page as that PCN's
learners will see it (logo, colours, names). Only the pack's first section (its
cover) is laid out,
without form fields, PDF/UA tagging or the manifest, so a preview costs a small
fraction of a full build; PDFium (pypdfium2) rasterises the page in process.
"""

from __future__ import annotations

import io
from dataclasses import replace

from generator.content.layout import Layout
from generator.content.loader import Content
from generator.content.theme import TEMPLATES_DIR, Theme
from generator.model.form import build_form

def cover_png(content: Content, layout: Layout, theme: Theme, *, width: int = 600) -> bytes:
    """The cover page of the pack for ``layout`` and ``theme`` as PNG, ``width`` pixels wide."""
    return pages_png(content, layout, theme, (content.pack["sections"][0],), width=width)[0]


def pages_png(content: Content, layout: Layout, theme: Theme, sections: tuple[str, ...], *,
              width: int = 600) -> list[bytes]:
    """The first page of each of ``sections`` (section ids, each starting a page, the cover one page
    long) as PNGs, ``width`` pixels wide: the sections are laid out together, once."""
    import pypdfium2
    from generator.formats.pdf.renderer import html_document
    from generator.formats.pdf.write import render_html

    form = build_form(content, replace(layout, only_sections=tuple(sections)))
    document = html_document(render_html(form, theme, pcn=layout.pcn), str(TEMPLATES_DIR / "pdf")).render()
    first = document.copy(document.pages[:len(sections)])
    pdf = pypdfium2.PdfDocument(first.write_pdf())
    images = []
    try:
        for index in range(len(pdf)):
            page = pdf[index]
            image = page.render(scale=width / page.get_width()).to_pil()
            out = io.BytesIO()
            image.save(out, format="PNG", optimize=False)
            images.append(out.getvalue())
    finally:
        pdf.close()
    return images
