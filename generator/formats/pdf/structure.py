"""The tags of a tagged page, copied for each of several copies of it in one file.

In: the rendered blank (its structure tree, with the pages' marked content) and, per copy,
the pages made from the blank's pages. Out: one structure tree holding a /Part per copy, each
element pointing at its own copy's pages, and a parent tree keyed per page, so that a file of
several forms is as tagged as one form (PDF/UA). The widgets' elements stay behind with the
widgets: such a file is for paper.
"""

from __future__ import annotations

from typing import Any

import pikepdf
from pikepdf import Array, Dictionary, Name


def _kids(value: Any) -> list[Any]:
    if value is None:
        return []
    return list(value) if isinstance(value, Array) else [value]


def _foreign(out: pikepdf.Pdf, value: Any) -> Any:
    """``value`` of another file as ``out`` can hold it (qpdf copies only indirect objects across)."""
    if isinstance(value, (Dictionary, Array, pikepdf.Stream)) and value.is_indirect:
        return out.copy_foreign(value)
    if isinstance(value, Dictionary):
        return Dictionary({k: _foreign(out, v) for k, v in value.items()})
    if isinstance(value, Array):
        return Array([_foreign(out, v) for v in value])
    return value


def tag_copies(out: pikepdf.Pdf, source: pikepdf.Pdf, copies: list[list[Dictionary]]) -> None:
    """Give ``out`` the structure of ``source`` once for each list of pages in ``copies`` (each the
    pages copied from ``source``'s pages, in order); nothing when ``source`` is untagged."""
    root = source.Root.get("/StructTreeRoot")
    if root is None:
        return
    page_index = {page.obj.objgen: n for n, page in enumerate(source.pages)}
    nums = root.ParentTree.get("/Nums", Array())
    marked_on = {int(nums[i]): nums[i + 1] for i in range(0, len(nums), 2)}
    document = out.make_indirect(Dictionary(Type=Name.StructElem, S=Name.Document))
    parent_tree: list[Any] = []
    parts: list[Dictionary] = []
    key = 0
    for pages in copies:
        made: dict[tuple[int, int], Dictionary] = {}

        def copy(elem: Dictionary, parent: Dictionary) -> Dictionary | None:
            new = out.make_indirect(Dictionary(Type=Name.StructElem))
            for name, value in elem.items():
                if name not in ("/P", "/K", "/Pg", "/Type"):
                    new[name] = _foreign(out, value)
            new.P = parent
            if "/Pg" in elem:
                new.Pg = pages[page_index[elem.Pg.objgen]]
            kids: list[Any] = []
            for kid in _kids(elem.get("/K")):
                if isinstance(kid, int):
                    kids.append(kid)
                elif kid.get("/Type") == "/OBJR":
                    continue  # a widget's element: the copies have no widgets
                elif kid.get("/Type") == "/MCR":
                    on = kid.get("/Pg") or elem.Pg
                    kids.append(Dictionary(Type=Name.MCR, MCID=kid.MCID, Pg=pages[page_index[on.objgen]]))
                else:
                    child = copy(kid, new)
                    if child is not None:
                        kids.append(child)
            if not kids:
                return None
            new.K = Array(kids)
            made[elem.objgen] = new
            return new

        for top in _kids(root.K):
            part = copy(top, document)
            if part is not None:
                part.S = Name.Part  # the blank's /Document, once per copy
                parts.append(part)
        for n, page in enumerate(source.pages):
            if "/StructParents" in page.obj:
                marked = marked_on[int(page.obj.StructParents)]
                parent_tree += [key, Array([made.get(e.objgen) if isinstance(e, Dictionary) else None
                                            for e in marked])]
                pages[n].StructParents = key
                key += 1
    tree = out.make_indirect(Dictionary(Type=Name.StructTreeRoot, K=document,
                                        ParentTree=Dictionary(Nums=Array(parent_tree)), ParentTreeNextKey=key))
    document.K = Array(parts)
    document.P = tree
    if "/RoleMap" in root:
        tree.RoleMap = _foreign(out, root.RoleMap)
    out.Root.StructTreeRoot = tree
    if "/Metadata" in source.Root:  # the blank's XMP claims PDF/UA-1 (pdfuaid:part); so do the copies
        out.Root.Metadata = out.copy_foreign(source.Root.Metadata)
    out.Root.MarkInfo = Dictionary(Marked=True)
    out.Root.ViewerPreferences = Dictionary(DisplayDocTitle=True)
