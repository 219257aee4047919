"""WeasyPrint, imported without its search for libraries by child processes.

WeasyPrint loads Pango, HarfBuzz, fontconfig and GObject by trying several names for each
(``libpango-1.0-0``, ``pango-1.0-0``, ``pango-1.0``, then ``libpango-1.0.so.0``, …). cffi hands
every name it cannot open to ``ctypes.util.find_library``, which on Linux runs ``ldconfig -p``
and, when that finds nothing, ``gcc`` and ``ld``: about fifty child processes and 0.1 to 0.2 s
of CPU before the first page is laid out. While WeasyPrint is imported here, ``find_library``
answers None on Linux, so those names fail at once and each library is opened by its soname
(``libpango-1.0.so.0``) through the dynamic loader: the same files (``tests/formats/pdf/
test_renderer.py`` compares the libraries mapped either way). Should that fail on some system,
WeasyPrint is imported again the ordinary way.

Everything that renders with WeasyPrint imports it from here.

``html_document`` parses our own templates' HTML with expat (C) instead of WeasyPrint's HTML
parser (pure Python, about 0.13 s for the 107 kB of the default pack): the templates write
markup that is also well-formed XML and that both parsers read into the same tree. Whatever
an XML parser would read differently (a carriage return, a tab or line break inside a tag,
a line break opening a <textarea>, comments, entities XML does not know, raw text other
than the one stylesheet, anything not well-formed) is left to WeasyPrint's own parser.
"""

from __future__ import annotations

import contextlib
import io
import re
import sys
import xml.etree.ElementTree as ElementTree


def _import_without_library_search() -> None:
    if not sys.platform.startswith("linux") or "weasyprint" in sys.modules:
        return
    import ctypes.util
    search = ctypes.util.find_library
    ctypes.util.find_library = lambda name: None
    try:
        with contextlib.redirect_stdout(io.StringIO()):  # WeasyPrint prints its own advice when a library is missing
            import weasyprint  # noqa: F401
    except Exception:  # not found by soname here: forget the half-done import and let the search run
        for name in [m for m in sys.modules if m == "weasyprint" or m.startswith("weasyprint.")]:
            del sys.modules[name]
    finally:
        ctypes.util.find_library = search


_import_without_library_search()

import cssselect2  # noqa: E402
from weasyprint import HTML, Attachment  # noqa: E402
from weasyprint.text.fonts import FontConfiguration  # noqa: E402
from weasyprint.urls import URLFetcher  # noqa: E402

__all__ = ["HTML", "Attachment", "FontConfiguration", "html_document", "xml_tree"]

_STYLE = re.compile(r"<style>([^<]*)</style>")
#: Elements whose content is raw text to HTML (no tags, no entities) but markup to XML.
_RAW_TEXT = re.compile(r"<(?:style|script|xmp|iframe|noembed|noframes|noscript|plaintext)\b", re.IGNORECASE)
#: What an XML parser reads differently from an HTML parser, in markup that parses as XML:
#: line ends and tabs in attribute values (XML turns them into spaces; we only check that no tag
#: spans a line or holds a tab), a line break opening a <textarea> or <pre> (HTML drops it), NUL
#: and CR (HTML replaces or folds them), comments and processing instructions (kept by one, dropped
#: by the other), namespaces and a <base> (WeasyPrint reads its URL).
_NOT_THE_SAME = re.compile(r"[\r\0]|<[A-Za-z][^>]*[\t\n]|<(?:textarea|pre|listing)\b[^>]*>\n|<!--|<\?|<!\[|"
                           r"xmlns|<base\b", re.IGNORECASE)


def xml_tree(html: str) -> ElementTree.Element | None:
    """The tree WeasyPrint's HTML parser builds from ``html`` (no namespaces), parsed with expat;
    None when ``html`` is not markup both parsers read the same, which WeasyPrint must then parse.

    Only for markup written to be read alike (the pack's template): what HTML's tree building adds
    to well-formed markup (a <tbody> around bare rows, a <p> closed by a block inside it) is not
    checked here but by the tests, which hold this tree to WeasyPrint's for the packs."""
    style = _STYLE.search(html)  # the stylesheet is raw text to HTML: kept out of the XML parse
    if style is not None:
        if _RAW_TEXT.search(html, 0, style.start()) or _RAW_TEXT.search(html, style.end()):
            return None  # one stylesheet and no other raw text
        html = html[:style.start(1)] + html[style.end(1):]
    elif _RAW_TEXT.search(html):
        return None
    if _NOT_THE_SAME.search(html):
        return None
    try:
        root = ElementTree.fromstring(html)
    except ElementTree.ParseError:
        return None
    if root.tag != "html" or (root.text or "").strip() or len(root) == 0 or root[-1].tail:
        return None  # text after </body> is the body's own to an HTML parser
    root.text = None  # an HTML parser drops white space before <head>
    if style is not None:
        element = root.find("head/style")
        if element is None:
            return None
        element.text = style.group(1)
    return root


class _ParsedHTML(HTML):
    """WeasyPrint's document over a tree already built (``HTML.__init__`` less its parsing)."""

    def __init__(self, root: ElementTree.Element, base_url: str) -> None:  # noqa: D107 -- no super(): it parses
        self.base_url = base_url  # the tree has no <base> (xml_tree leaves those to WeasyPrint)
        self.url_fetcher = URLFetcher()
        self.media_type = "print"
        self.wrapper_element = cssselect2.ElementWrapper.from_html_root(root, content_language=None)
        self.etree_element = self.wrapper_element.etree_element


def html_document(html: str, base_url: str) -> HTML:
    """``HTML(string=html, base_url=base_url)``, parsed by expat when ``xml_tree`` can."""
    root = xml_tree(html)
    if root is None:
        return HTML(string=html, base_url=base_url)
    return _ParsedHTML(root, base_url)
