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
"""

from __future__ import annotations

import contextlib
import io
import sys


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

from weasyprint import HTML, Attachment  # noqa: E402
from weasyprint.text.fonts import FontConfiguration  # noqa: E402

__all__ = ["HTML", "Attachment", "FontConfiguration"]
