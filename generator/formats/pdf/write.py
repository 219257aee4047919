"""PDF writer: form model -> tagged, fillable PDF.

In: a ``Form``, a ``Theme``, the manifest and optional pre-filled values.
Out: PDF bytes. The pack is rendered from the Jinja2 templates in
``templates/pdf/`` by WeasyPrint (PDF/UA-1, forms on), then ``finish_forms``
reshapes the AcroForm in memory before it is written:

- field ids become true hierarchical names (a partial name holds no period);
- each radio group is one field whose widgets carry no names of their own, and
  whose on-states are the options' own values (not indexes into /Opt);
- checkboxes use the conventional ``/Yes`` on-state;
- text fields point at Helvetica in the AcroForm /DR, not at a subset font.
"""

from __future__ import annotations

import base64
import io
from typing import Any, Mapping

import pydyf
from weasyprint import HTML, Attachment
from weasyprint.text.fonts import FontConfiguration

from generator import __version__
from generator.content.theme import TEMPLATES_DIR, Theme, template_env
from generator.model.form import Form
from generator.model.manifest import PDF_ATTACHMENT_NAME, dumps

#: Font and size text fields are filled with by viewers that build appearances.
FIELD_FONT = "Helv"
FIELD_DA = f"/{FIELD_FONT} 9 Tf 0 g"
CHECKBOX_ON = "Yes"


_ENV = template_env("pdf")
_FONT_CONFIG = FontConfiguration()


def _data_uri(png: bytes) -> str:
    return f"data:image/png;base64,{base64.b64encode(png).decode()}"


def render_html(form: Form, theme: Theme, values: Mapping[str, Any] | None = None,
                pcn: str = "") -> str:
    """The pack as one HTML string (CSS inlined), ready for WeasyPrint."""
    header = f"{pcn} · {theme.organisation}" if pcn else theme.organisation
    css = _ENV.get_template("pack.css.j2").render(theme=theme, footer=theme.footer or form.title, header=header)
    return _ENV.get_template("pack.html.j2").render(
        form=form, theme=theme, css=css, values=dict(values or {}), pcn=pcn,
        logo_uri=_data_uri(theme.logo) if theme.logo else "", generator_version=__version__,
    )


def write_pdf(form: Form, theme: Theme, manifest: Mapping[str, Any],
              values: Mapping[str, Any] | None = None, pcn: str = "") -> bytes:
    """Render the pack to PDF bytes with its manifest attached."""
    html = render_html(form, theme, values, pcn)
    attachment = Attachment(string=dumps(dict(manifest)).encode("utf-8"), name=PDF_ATTACHMENT_NAME,
                            description="Portfolio pack manifest", relationship="Data")
    out = io.BytesIO()
    HTML(string=html, base_url=str(TEMPLATES_DIR / "pdf")).write_pdf(
        out, pdf_forms=True, pdf_variant="pdf/ua-1", attachments=[attachment],
        finisher=finish_forms, font_config=_FONT_CONFIG, uncompressed_pdf=False,
        custom_metadata=True,
    )
    return out.getvalue()


# ---------------------------------------------------------------- finisher

def _obj(pdf: pydyf.PDF, ref: Any) -> Any:
    """The object a reference (``b'12 0 R'``) or a number points at."""
    number = int(ref.split()[0]) if isinstance(ref, (bytes, str)) else int(ref)
    return pdf.objects[number]


def _text(value: Any) -> str:
    return value.string if isinstance(value, pydyf.String) else str(value)


def finish_forms(document: Any, pdf: pydyf.PDF) -> None:
    """Reshape WeasyPrint's AcroForm (see the module docstring); idempotent per document."""
    acroform = pdf.catalog.get("AcroForm")
    if not acroform:
        return
    # One empty appearance for every button's off state, so that every viewer
    # (and pdftk's list of states) knows /Off as well as the on state.
    off = pydyf.Stream(extra={"Type": "/XObject", "Subtype": "/Form", "BBox": pydyf.Array((0, 0, 1, 1))})
    pdf.add_object(off)
    terminals: list[pydyf.Dictionary] = []
    for ref in acroform["Fields"]:
        obj = _obj(pdf, ref)
        if "Kids" in obj:  # a radio group: the field; its kids are widgets
            _finish_radio(pdf, obj, off.reference)
            terminals.append(obj)
        elif "Parent" in obj:  # a radio widget also listed at top level
            continue
        else:
            if obj.get("FT") == "/Btn":
                _finish_checkbox(obj, off.reference)
            else:
                obj["DA"] = pydyf.String(FIELD_DA)
            terminals.append(obj)

    roots = pydyf.Array()
    nodes: dict[str, pydyf.Dictionary] = {}
    for field in terminals:
        parts = _text(field["T"]).split(".")
        parent = None
        for depth in range(1, len(parts)):
            key = ".".join(parts[:depth])
            node = nodes.get(key)
            if node is None:
                node = pydyf.Dictionary({"T": pydyf.String(parts[depth - 1]), "Kids": pydyf.Array()})
                pdf.add_object(node)
                nodes[key] = node
                if parent is None:
                    roots.append(node.reference)
                else:
                    node["Parent"] = parent.reference
                    parent["Kids"].append(node.reference)
            parent = node
        field["T"] = pydyf.String(parts[-1])
        if parent is None:
            roots.append(field.reference)
        else:
            field["Parent"] = parent.reference
            parent["Kids"].append(field.reference)
    acroform["Fields"] = roots
    # Empty text fields need no appearance, and buttons carry theirs; a viewer told
    # that appearances are needed would redraw every field (poppler then loses
    # radio states and non-Latin-1 letters). Keep the flag only when WeasyPrint
    # wrote text values without appearances (a pack rendered pre-filled).
    prefilled = any(t.get("FT") == "/Tx" and _text(t.get("V", "")) for t in terminals)
    acroform["NeedAppearances"] = "true" if prefilled else "false"

    # The form gets its own resources: WeasyPrint points /DR at the page
    # resources, and a font added there would show up as a page font.
    helv = pydyf.Dictionary({"Type": "/Font", "Subtype": "/Type1", "BaseFont": "/Helvetica",
                             "Encoding": "/WinAnsiEncoding"})
    pdf.add_object(helv)
    resources = pydyf.Dictionary({"Font": pydyf.Dictionary({FIELD_FONT: helv.reference})})
    pdf.add_object(resources)
    acroform["DR"] = resources.reference
    acroform["DA"] = pydyf.String(FIELD_DA)


def _finish_checkbox(widget: pydyf.Dictionary, off: bytes) -> None:
    normal = widget["AP"]["N"]
    if "on" in normal:
        normal[CHECKBOX_ON] = normal.pop("on")
    normal["Off"] = off
    checked = widget.get("AS") not in (None, "/Off")
    widget["AS"] = widget["V"] = f"/{CHECKBOX_ON}" if checked else "/Off"
    widget["MK"]["CA"] = pydyf.String("4")  # ZapfDingbats check for viewers that redraw


def _finish_radio(pdf: pydyf.PDF, group: pydyf.Dictionary, off: bytes) -> None:
    values = [_text(v) for v in group.pop("Opt", [])]
    group["V"] = "/Off"
    for index, ref in enumerate(group["Kids"]):
        widget = _obj(pdf, ref)
        widget.pop("T", None)  # a widget of a field has no name of its own
        widget.pop("FT", None)
        normal = widget["AP"]["N"]
        state = values[index]
        normal[state] = normal.pop(index) if index in normal else normal.pop(str(index))
        normal["Off"] = off
        if widget.get("AS") not in (None, "/Off"):
            widget["AS"] = group["V"] = f"/{state}"
        else:
            widget["AS"] = "/Off"
