"""The bounded PDF object walks at their edges: limits met exactly, filters as arrays, widgets without
appearances, the document information dictionary. Known answers, from objects built here with pikepdf."""

from __future__ import annotations

import io
import json
import zlib

import pikepdf
import pytest
from pikepdf import Array, Dictionary, Name, String

from generator.formats.pdf import objects
from generator.formats.pdf.objects import Damaged, LimitReached, editor_info, find_manifest, inherited, on_state

MANIFEST = {"format": "portfolio-manifest/1", "pack_id": "care-pack", "instance_id": "00000000-0000-4000-8000-000000000001",
            "content": {"id": "care-pack", "version": "1.0.0", "hash": "0" * 64},
            "generator": {"name": "portfolio", "version": "0.1.0"},
            "fields": [{"id": "cover.name", "kind": "text", "label": "Name"}]}
RAW = json.dumps(MANIFEST).encode()


def with_manifest(data: bytes, filters) -> pikepdf.Pdf:
    pdf = pikepdf.new()
    stream = pikepdf.Stream(pdf, data)
    if filters is not None:
        stream.Filter = filters
    spec = Dictionary(Type=Name.Filespec, EF=Dictionary(F=stream))
    pdf.Root.Names = Dictionary(EmbeddedFiles=Dictionary(Names=Array([String("portfolio-manifest.json"), spec])))
    return pdf


def test_a_filter_given_as_an_array():
    assert find_manifest(with_manifest(zlib.compress(RAW), Array([Name.FlateDecode])), "x.pdf") == MANIFEST
    assert find_manifest(with_manifest(RAW, Array([])), "x.pdf") == MANIFEST


def test_a_stored_manifest_of_exactly_the_limit_is_read(monkeypatch):
    monkeypatch.setattr(objects, "MANIFEST_MAX_BYTES", len(RAW))
    assert find_manifest(with_manifest(RAW, None), "x.pdf") == MANIFEST
    monkeypatch.setattr(objects, "MANIFEST_MAX_BYTES", len(RAW) - 1)
    with pytest.raises(LimitReached):
        find_manifest(with_manifest(RAW, None), "x.pdf")


def test_a_compressed_manifest_that_unpacks_to_exactly_the_limit_is_read(monkeypatch):
    monkeypatch.setattr(objects, "MANIFEST_MAX_BYTES", len(RAW))
    assert find_manifest(with_manifest(zlib.compress(RAW), Name.FlateDecode), "x.pdf") == MANIFEST
    monkeypatch.setattr(objects, "MANIFEST_MAX_BYTES", len(RAW) - 1)
    with pytest.raises(LimitReached):
        find_manifest(with_manifest(zlib.compress(RAW), Name.FlateDecode), "x.pdf")


def chain(pdf: pikepdf.Pdf, length: int) -> Dictionary:
    """A /Parent chain of ``length`` nodes; only the last (the root) has /FT."""
    node = pdf.make_indirect(Dictionary(FT=Name.Tx))
    for _ in range(length - 1):
        node = pdf.make_indirect(Dictionary(Parent=node))
    return node


def test_an_attribute_is_found_up_a_chain_of_seventeen_but_not_eighteen():
    pdf = pikepdf.new()
    assert objects.MAX_DEPTH == 16
    assert inherited(chain(pdf, 17), "/FT") == Name.Tx
    with pytest.raises(Damaged):
        inherited(chain(pdf, 18), "/FT")


def test_on_state_of_widgets_without_appearances():
    assert on_state(Dictionary()) is None
    assert on_state(Dictionary(AP=Dictionary())) is None
    assert on_state(Dictionary(AP=Dictionary(N=Dictionary(Off=Dictionary())))) is None
    assert on_state(Dictionary(AP=Dictionary(N=Dictionary(Off=Dictionary(), happy=Dictionary())))) == "/happy"


def saved(info: dict | None) -> pikepdf.Pdf:
    pdf = pikepdf.new()
    if info is not None:
        pdf.trailer.Info = pdf.make_indirect(Dictionary({k: v for k, v in info.items()}))
    out = io.BytesIO()
    pdf.save(out)
    return pikepdf.open(io.BytesIO(out.getvalue()))


def test_editor_info_joins_producer_and_creator():
    assert editor_info(saved({"/Producer": String("pdftk-java 3.3.3"), "/Creator": String("LibreOffice Writer")})) \
        == "pdftk-java 3.3.3 LibreOffice Writer"
    assert editor_info(saved({"/Creator": String("Writer"), "/Title": String("x")})) == "Writer"
    assert editor_info(saved({"/Producer": Name("/NotAString")})) == ""


def test_editor_info_without_an_information_dictionary_is_empty():
    pdf = pikepdf.new()
    if "/Info" in pdf.trailer:
        del pdf.trailer["/Info"]
    assert editor_info(pdf) == ""
    pdf.trailer.Info = Array([1])  # not a dictionary
    assert editor_info(pdf) == ""
