"""PDF writer: form model -> tagged, fillable PDF.

In: a ``Form``, a ``Theme``, the manifest and optional pre-filled values.
Out: PDF bytes. The pack is rendered from the Jinja2 templates in
``templates/pdf/`` by WeasyPrint (PDF/UA-1, forms on), then ``finish_forms``
reshapes the AcroForm in memory before it is written:

- field ids become true hierarchical names (a partial name holds no period);
- each radio group is one field whose widgets carry no names of their own, and
  whose on-states are the options' own values (not indexes into /Opt);
- checkboxes use the conventional ``/Yes`` on-state;
- every button widget covers the whole box drawn for it (its border included),
  and draws its own tick or round dot (``appearance``), so the click target is
  the box a user sees and a chosen radio is a dot, not the glyph-shaped oval
  WeasyPrint draws;
- text fields point at Helvetica in the AcroForm /DR, not at a subset font, and
  a pre-filled value gets an appearance stream wrapped to its box, so that
  ``NeedAppearances`` stays false and every viewer shows the same;
- table header cells get ``/Scope`` (Column in a table head, Row elsewhere).

``finish_pack`` then records where every widget sits in the attached manifest
(``manifest.with_geometry``: page, /Rect and on-state of each widget, each page's
size), so a scanned copy can be read against the layout it was printed from.
"""

from __future__ import annotations

import base64
import hashlib
import io
from typing import Any, Mapping

import pydyf

from generator import __version__
from generator.content.theme import TEMPLATES_DIR, Theme, template_env
from generator.formats.pdf import appearance, marks
from generator.formats.pdf.renderer import Attachment, FontConfiguration, html_document
from generator.model.form import Form
from generator.model.manifest import PDF_ATTACHMENT_NAME, RETURN_LINK_PLACEHOLDER, dumps, with_geometry
from generator.model.pagecode import page_code

#: Font and size text fields are filled with by viewers that build appearances.
FIELD_FONT = appearance.FONT
FIELD_DA = f"/{FIELD_FONT} {appearance.FONT_SIZE:g} Tf 0 g"
CHECKBOX_ON = "Yes"
#: Border width of checkboxes and radio buttons in the template's CSS (points):
#: WeasyPrint's widget is the content box, so the finisher grows it by this much
#: on every side to cover the whole drawn box.
BUTTON_BORDER_PT = 0.75
#: Size of the drawn box of a checkbox or radio button (points, border included).
BUTTON_SIZE_PT = 13.0


_ENV = template_env("pdf")
_FONT_CONFIG = FontConfiguration()


def _data_uri(png: bytes) -> str:
    return f"data:image/png;base64,{base64.b64encode(png).decode()}"


def render_html(form: Form, theme: Theme, values: Mapping[str, Any] | None = None,
                pcn: str = "", return_by: str = "") -> str:
    """The pack as one HTML string (CSS inlined), ready for WeasyPrint."""
    header = f"{pcn} · {theme.organisation}" if pcn else theme.organisation
    css = _ENV.get_template("pack.css.j2").render(theme=theme, footer=theme.footer or form.title, header=header,
                                                  button_size=BUTTON_SIZE_PT, button_border=BUTTON_BORDER_PT)
    return _ENV.get_template("pack.html.j2").render(
        form=form, theme=theme, css=css, values=dict(values or {}), pcn=pcn,
        logo_uri=_data_uri(theme.logo) if theme.logo else "", generator_version=__version__,
        return_by=return_by, return_placeholder=RETURN_LINK_PLACEHOLDER,
    )


def write_pdf(form: Form, theme: Theme, manifest: Mapping[str, Any],
              values: Mapping[str, Any] | None = None, pcn: str = "", return_by: str = "") -> bytes:
    """Render the pack to PDF bytes with its manifest attached.

    With ``return_by`` (a date as the cover shows it), the cover asks for the copy back by then
    at the learner's personal link, and keeps a slot (``marks.RETURN_SLOT``) where the stamper
    draws each copy's link and its QR code."""
    html = render_html(form, theme, values, pcn, return_by)
    # The finisher writes the manifest into this attachment once the layout is known
    # (``_replace_manifest``): what is attached here is never kept.
    attachment = Attachment(string=b"{}", name=PDF_ATTACHMENT_NAME,
                            description="Portfolio pack manifest", relationship="Data")
    out = io.BytesIO()
    html_document(html, str(TEMPLATES_DIR / "pdf")).write_pdf(
        out, pdf_forms=True, pdf_variant="pdf/ua-1", attachments=[attachment],
        finisher=lambda document, pdf: finish_pack(document, pdf, manifest, return_slot=bool(return_by)),
        font_config=_FONT_CONFIG, uncompressed_pdf=False, custom_metadata=True,
    )
    return out.getvalue()


# ---------------------------------------------------------------- finisher

def _obj(pdf: pydyf.PDF, ref: Any) -> Any:
    """The object a reference (``b'12 0 R'``) or a number points at."""
    number = int(ref.split()[0]) if isinstance(ref, (bytes, str)) else int(ref)
    return pdf.objects[number]


def _text(value: Any) -> str:
    return value.string if isinstance(value, pydyf.String) else str(value)


def _page_numbers(pdf: pydyf.PDF) -> dict[int, int]:
    """Object number of each page -> its 1-based page number."""
    kids = pdf.pages["Kids"]  # pydyf lists each page as three items: number, 0, R
    return {int(number): index + 1 for index, number in enumerate(kids[0::3])}


def _page_sizes(pdf: pydyf.PDF) -> list[dict[str, float]]:
    sizes = []
    for number in pdf.pages["Kids"][0::3]:
        x1, y1, x2, y2 = (float(v) for v in pdf.objects[int(number)]["MediaBox"])
        sizes.append({"width": round(abs(x2 - x1), 3), "height": round(abs(y2 - y1), 3)})
    return sizes


def _placed(widget: pydyf.Dictionary, pages: dict[int, int], on: Any) -> dict[str, Any]:
    """A widget's entry in the manifest: its page, its (finished) /Rect and its on-state."""
    return {"page": pages[int(widget["P"].split()[0])], "rect": [float(v) for v in widget["Rect"]], "on": on}


def finish_pack(document: Any, pdf: pydyf.PDF, manifest: Mapping[str, Any], return_slot: bool = True) -> None:
    """``finish_forms``, the page codes drawn on every page, the return link's slot kept (only
    looked for with ``return_slot``: the cover has one only when it asks for the copy back),
    then the manifest attachment rewritten with the finished layout."""
    widgets = finish_forms(document, pdf)
    _draw_page_codes(pdf, manifest)
    if return_slot:
        _keep_return_slot(document, pdf)
    _replace_manifest(pdf, with_geometry(manifest, widgets, _page_sizes(pdf)))


def _resources(pdf: pydyf.PDF, page: pydyf.Dictionary) -> pydyf.Dictionary:
    return page["Resources"] if isinstance(page["Resources"], pydyf.Dictionary) else _obj(pdf, page["Resources"])


def _keep_return_slot(document: Any, pdf: pydyf.PDF) -> None:
    """Where the cover has a return link slot (``.return-slot``), an empty form XObject with the
    slot's rectangle as its /BBox, invoked as an artifact: a stamped copy replaces it."""
    for index, page_layout in enumerate(document.pages):
        for box in page_layout._page_box.descendants():
            element = getattr(box, "element", None)
            if element is None or "return-slot" not in (element.get("class") or "").split():
                continue
            page = pdf.objects[int(pdf.pages["Kids"][3 * index])]
            height = abs(float(page["MediaBox"][3]) - float(page["MediaBox"][1]))
            scale = 0.75  # CSS px to points
            x0, top = box.border_box_x() * scale, box.border_box_y() * scale
            rect = (x0, height - top - box.border_height() * scale, x0 + box.border_width() * scale, height - top)
            slot = pydyf.Stream([], extra={"Type": "/XObject", "Subtype": "/Form",
                                           "BBox": pydyf.Array(round(v, 3) for v in rect)})
            pdf.add_object(slot)
            _resources(pdf, page).setdefault("XObject", pydyf.Dictionary())[marks.RETURN_SLOT] = slot.reference
            _obj(pdf, page["Contents"]).stream.append(b"/Artifact BMC q /%s Do Q EMC" % marks.RETURN_SLOT.encode())
            return


def _draw_page_codes(pdf: pydyf.PDF, manifest: Mapping[str, Any]) -> None:
    """Give page n a form XObject ``/PFcode<n>`` with its QR page code and the alignment marks
    (``marks``), drawn last, as an artifact, in a graphics state of its own."""
    for index, number in enumerate(pdf.pages["Kids"][0::3]):
        page = pdf.objects[int(number)]
        n = index + 1
        x1, y1, x2, y2 = (float(v) for v in page["MediaBox"])
        width, height = abs(x2 - x1), abs(y2 - y1)
        code = page_code(dict(manifest), n)
        xobject = pydyf.Stream([marks.code_content(code, height)], extra={
            "Type": "/XObject", "Subtype": "/Form",
            "BBox": pydyf.Array((0, 0, round(width, 3), round(height, 3)))}, compress=True)
        pdf.add_object(xobject)
        _resources(pdf, page).setdefault("XObject", pydyf.Dictionary())[marks.xobject_name(n)] = xobject.reference
        contents = _obj(pdf, page["Contents"])
        # WeasyPrint's page content starts with a transform it never undoes: save the state first.
        contents.stream.insert(0, b"q")
        contents.stream.append(b"Q")
        contents.stream.append(marks.invocation(n))


def _replace_manifest(pdf: pydyf.PDF, manifest: Mapping[str, Any]) -> None:
    """Put ``manifest`` into the manifest attachment WeasyPrint wrote (same objects, new bytes)."""
    names = _obj(pdf, pdf.catalog["Names"]["EmbeddedFiles"])["Names"]
    for name, ref in zip(names[0::2], names[1::2]):
        text = name.string if isinstance(name, pydyf.String) else name
        if (text.decode("latin-1") if isinstance(text, bytes) else str(text)) != PDF_ATTACHMENT_NAME:
            continue
        stream = _obj(pdf, _obj(pdf, ref)["EF"]["F"])
        raw = dumps(dict(manifest)).encode("utf-8")
        stream.stream = [raw]
        stream.extra["Params"]["Size"] = len(raw)
        stream.extra["Params"]["CheckSum"] = f"<{hashlib.md5(raw).hexdigest()}>"
        return
    raise AssertionError("WeasyPrint wrote no manifest attachment")  # write_pdf always attaches one


def finish_forms(document: Any, pdf: pydyf.PDF) -> dict[str, list[dict[str, Any]]]:
    """Reshape WeasyPrint's AcroForm (see the module docstring); idempotent per document.

    Returns each field's widgets as the manifest records them (``manifest.with_geometry``)."""
    _scope_table_headers(pdf)
    acroform = pdf.catalog.get("AcroForm")
    if not acroform:
        return {}
    pages = _page_numbers(pdf)
    placed: dict[str, list[dict[str, Any]]] = {}
    terminals: list[pydyf.Dictionary] = []
    for ref in acroform["Fields"]:
        obj = _obj(pdf, ref)
        fid = _text(obj["T"]) if "T" in obj else ""
        if "Kids" in obj:  # a radio group: the field; its kids are widgets
            states = _finish_radio(pdf, obj)
            placed[fid] = [_placed(_obj(pdf, kid), pages, state) for kid, state in zip(obj["Kids"], states)]
            terminals.append(obj)
        elif "Parent" in obj:  # a radio widget also listed at top level
            continue
        else:
            if obj.get("FT") == "/Btn":
                _finish_checkbox(pdf, obj)
                placed[fid] = [_placed(obj, pages, True)]
            else:
                _finish_text(pdf, obj)
                placed[fid] = [_placed(obj, pages, None)]
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
    # Every field carries the appearance of its value (buttons their states,
    # pre-filled text its wrapped value), so no viewer needs to redraw: poppler,
    # told to, loses radio states and non-Latin-1 letters.
    acroform["NeedAppearances"] = "false"

    # The form gets its own resources: WeasyPrint points /DR at the page
    # resources, and a font added there would show up as a page font.
    helv = pydyf.Dictionary({"Type": "/Font", "Subtype": "/Type1", "BaseFont": "/Helvetica",
                             "Encoding": "/WinAnsiEncoding"})
    pdf.add_object(helv)
    resources = pydyf.Dictionary({"Font": pydyf.Dictionary({FIELD_FONT: helv.reference})})
    pdf.add_object(resources)
    acroform["DR"] = resources.reference
    acroform["DA"] = pydyf.String(FIELD_DA)
    return placed


def _rect(widget: pydyf.Dictionary, grow: float = 0.0) -> tuple[float, float, float, float]:
    """The widget's rectangle normalised (WeasyPrint writes y from top to bottom), grown by ``grow``."""
    x1, y1, x2, y2 = (float(v) for v in widget["Rect"])
    box = (min(x1, x2) - grow, min(y1, y2) - grow, max(x1, x2) + grow, max(y1, y2) + grow)
    widget["Rect"] = pydyf.Array(round(v, 3) for v in box)
    return box


def _form_xobject(pdf: pydyf.PDF, content: bytes, width: float, height: float,
                  resources: Any = None) -> bytes:
    extra = {"Type": "/XObject", "Subtype": "/Form", "BBox": pydyf.Array((0, 0, round(width, 3), round(height, 3)))}
    if resources is not None:
        extra["Resources"] = resources
    stream = pydyf.Stream([content] if content else [], extra=extra)
    pdf.add_object(stream)
    return stream.reference


def _button_states(pdf: pydyf.PDF, widget: pydyf.Dictionary, on: str, mark: Any) -> None:
    """Give a button widget the drawn box as its rectangle and its own on/off appearances."""
    x1, y1, x2, y2 = _rect(widget, BUTTON_BORDER_PT)
    width, height = x2 - x1, y2 - y1
    widget["AP"] = pydyf.Dictionary({"N": pydyf.Dictionary({
        on: _form_xobject(pdf, mark(width, height), width, height),
        "Off": _form_xobject(pdf, b"", width, height),
    })})
    widget.pop("D", None)


def _finish_checkbox(pdf: pydyf.PDF, widget: pydyf.Dictionary) -> None:
    checked = widget.get("AS") not in (None, "/Off")
    _button_states(pdf, widget, CHECKBOX_ON, appearance.check_mark)
    widget["AS"] = widget["V"] = f"/{CHECKBOX_ON}" if checked else "/Off"
    widget["MK"] = pydyf.Dictionary({"CA": pydyf.String("4")})  # ZapfDingbats tick for viewers that redraw


def _finish_radio(pdf: pydyf.PDF, group: pydyf.Dictionary) -> list[str]:
    """Finish a radio group's widgets; returns each widget's on-state (its option's value)."""
    values = [_text(v) for v in group.pop("Opt", [])]
    group["V"] = "/Off"
    for index, ref in enumerate(group["Kids"]):
        widget = _obj(pdf, ref)
        widget.pop("T", None)  # a widget of a field has no name of its own
        widget.pop("FT", None)
        state = values[index]
        checked = widget.get("AS") not in (None, "/Off")
        _button_states(pdf, widget, state, appearance.radio_dot)
        widget["MK"] = pydyf.Dictionary({"CA": pydyf.String("l")})  # ZapfDingbats dot for viewers that redraw
        if checked:
            widget["AS"] = group["V"] = f"/{state}"
        else:
            widget["AS"] = "/Off"
    return values[:len(group["Kids"])]


def _finish_text(pdf: pydyf.PDF, widget: pydyf.Dictionary) -> None:
    widget["DA"] = pydyf.String(FIELD_DA)
    x1, y1, x2, y2 = _rect(widget)
    value = _text(widget.get("V", ""))
    if not value:
        return
    multiline = bool(int(widget.get("Ff", 0)) & (1 << 12))
    drawn = appearance.text_appearance(value, x2 - x1, y2 - y1, multiline)
    resources = b"<< /Font << /%s %s >> >>" % (FIELD_FONT.encode(), appearance.font_dictionary(drawn.differences))
    widget["AP"] = pydyf.Dictionary({"N": _form_xobject(pdf, drawn.content, drawn.width, drawn.height,
                                                         resources)})


def _scope_table_headers(pdf: pydyf.PDF) -> None:
    """Give every TH structure element a /Scope: Column in a table head, Row elsewhere."""
    for obj in pdf.objects:
        if not isinstance(obj, pydyf.Dictionary) or obj.get("S") != "/TH":
            continue
        row = _obj(pdf, obj["P"]) if "P" in obj else None
        section = _obj(pdf, row["P"]) if row is not None and "P" in row else None
        scope = "/Column" if section is not None and section.get("S") == "/THead" else "/Row"
        attributes = obj.get("A")
        if not isinstance(attributes, pydyf.Dictionary):
            attributes = pydyf.Dictionary({"O": "/Table"})
            obj["A"] = attributes
        attributes["Scope"] = scope
