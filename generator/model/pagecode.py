"""What a printed page says about itself: the page code (its QR payload) and where the marks sit.

In: a pack id, an instance id, a page number and a content version. Out: the short
text a page's QR code holds, and back. Also the page geometry a scan is read
against: where the QR code and the four alignment marks sit on an A4 page, in
millimetres from the page's top-left corner. The PDF writer draws them there and
the scan reader looks for them there, so both take the numbers from here.

The payload is ``PF1|<pack id>|<instance>|<page>|<content version>``: the instance
id's 16 bytes in base32 without padding (26 characters), so a default pack's code
is about 70 bytes, a version-5 symbol at error-correction level M. Page 0 (``WORD_PAGE``)
is a Word page: its header's code cannot know which page Word will break it onto.
"""

from __future__ import annotations

import base64
import re
import uuid
from dataclasses import dataclass
from typing import Any, Mapping

from generator.errors import PageCodeError

#: First field of every page code: the format and its version.
PREFIX = "PF1"
SEPARATOR = "|"
#: Longest payload a page code may have (a version-5 symbol holds 84 bytes at level M).
MAX_PAYLOAD = 84

#: A4 in millimetres.
PAGE_SIZE_MM = (210.0, 297.0)
#: Where a printed page lands in a scan. Printing with "fit to page" shrinks the page about its centre
#: (to 97 %); the sheet then lies on the scanner up to 3 degrees askew and up to 5 mm off, and the scan
#: keeps only the scanner's A4 area: what moves past its edge is lost. Turning a page 3 degrees about
#: its centre moves a corner about 7.5 mm sideways and 5 mm up or down, so anything printed in a
#: corner can be cut off; the middle of an edge moves almost only along that edge (under 0.6 mm
#: across it within 10 mm of the middle). So the page code and the marks sit at the middles of
#: the edges, 6.5 mm or more in from them: 5 mm of shift and 0.6 mm of turn still leave them whole.

#: The QR symbol (without its quiet zone): (left, top, size) in millimetres, at the middle of the
#: bottom margin (the layout keeps 25 mm free at the foot and the middle 40 mm of it clear of text).
QR_BOX_MM = (97.0, 274.0, 16.0)
#: Side of each alignment mark (a solid black square), millimetres.
MARK_SIZE_MM = 5.0
#: Centres of the four alignment marks, millimetres from the top-left corner: the middles of the
#: top, left and right edges, and one beside the QR code at the foot (the QR code's own corners are
#: four more points). The QR code tells the page's orientation; any three marks and the code align it.
MARK_CENTRES_MM = ((105.0, 9.0), (9.0, 148.5), (201.0, 148.5), (121.0, 282.0))
#: Their names, in that order, for messages.
MARK_NAMES = ("top", "left", "right", "bottom")
#: A Word document's page code (in its headers): the top-right corner, where the header keeps room.
#: A Word page is identified by it, never aligned (Word decides where its pages break).
WORD_QR_BOX_MM = (188.0, 4.0, 16.0)

#: The page number a Word document's header carries: Word lays its pages out itself, so the page a
#: printed Word page was is not known when the document is written.
WORD_PAGE = 0

#: How the symbol is made (``symbol``): error-correction level M (about 15% of it can be lost),
#: and one fixed mask pattern: evaluating all eight (segno's default) costs five times the
#: encoding itself on every page of every copy, and any mask is valid to a reader.
ERROR_LEVEL = "m"
MASK = 2
#: White margin around the symbol, in modules (the QR standard asks for four).
QUIET_ZONE = 4

_PACK_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,39}")
_VERSION = re.compile(r"[A-Za-z0-9][A-Za-z0-9._+-]{0,15}")


@dataclass(frozen=True)
class PageCode:
    pack_id: str
    instance_id: str  # the canonical UUID text, as in the manifest
    page: int  # 1-based; 0 on a Word page (WORD_PAGE): the page a Word document breaks to is not known
    content_version: str

    def encode(self) -> str:
        """The QR payload for this page."""
        if not _PACK_ID.fullmatch(self.pack_id):
            raise PageCodeError(f"pack id {self.pack_id!r} cannot go in a page code: "
                                "use letters, digits, '.', '_' or '-', at most 40 characters")
        if not _VERSION.fullmatch(self.content_version):
            raise PageCodeError(f"content version {self.content_version!r} cannot go in a page code: "
                                "use letters, digits, '.', '_', '+' or '-', at most 16 characters")
        if not 0 <= self.page <= 9999:
            raise PageCodeError(f"page {self.page} cannot go in a page code: pages run from 1 to 9999 "
                                f"(0 for a Word page)")
        try:
            raw = uuid.UUID(self.instance_id).bytes
        except ValueError:
            raise PageCodeError(f"instance id {self.instance_id!r} is not a UUID") from None
        instance = base64.b32encode(raw).decode("ascii").rstrip("=")
        return SEPARATOR.join((PREFIX, self.pack_id, instance, str(self.page), self.content_version))


def decode(payload: str) -> PageCode:
    """The page code a QR payload holds; ``PageCodeError`` when it is not one of ours."""
    if len(payload) > MAX_PAYLOAD:
        raise PageCodeError(f"a QR code of {len(payload)} characters is not a page code of this tool")
    parts = payload.split(SEPARATOR)
    if len(parts) != 5 or parts[0] != PREFIX:
        raise PageCodeError("the QR code is not a page code of this tool (another tool's QR code?)")
    _, pack_id, instance, page, version = parts
    if not (_PACK_ID.fullmatch(pack_id) and _VERSION.fullmatch(version)
            and re.fullmatch(r"[A-Z2-7]{26}", instance) and re.fullmatch(r"0|[1-9][0-9]{0,3}", page)):
        raise PageCodeError("the QR code looks like a page code of this tool but is damaged")
    instance_id = str(uuid.UUID(bytes=base64.b32decode(instance + "======")))
    return PageCode(pack_id, instance_id, int(page), version)


def page_code(manifest: Mapping[str, Any], page: int) -> PageCode:
    """Page ``page``'s code in the copy ``manifest`` describes."""
    return PageCode(manifest["pack_id"], manifest["instance_id"], page, manifest["content"]["version"])


def symbol(code: PageCode) -> Any:
    """The QR symbol (a ``segno.QRCode``) of ``code``; its ``matrix`` rows run top to bottom."""
    import segno  # imported on demand: only writing a document needs it
    return segno.make(code.encode(), error=ERROR_LEVEL, boost_error=False, micro=False, mask=MASK)
