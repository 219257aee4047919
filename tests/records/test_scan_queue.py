"""The queue of scanned fields left to a person: only what waits is read, a page at a time, on both stores."""

from __future__ import annotations

from generator.records.connect import open_store
from generator.records.review import enter_value, pending_fields, pending_page
from generator.records.store import Definition, FieldValue, NewSubmission, ScanField

FIELDS = [{"id": "paper.notes", "kind": "longtext", "label": "Notes", "options": []},
          {"id": "paper.seen", "kind": "yesno", "label": "Seen", "options": [{"value": "yes", "label": "Yes"},
                                                                           {"value": "no", "label": "No"}]},
          {"id": "paper.done", "kind": "checkbox", "label": "Done", "options": []}]
DEFINITION = Definition("d" * 64, "demo-pack", None, "demo", "1.0.0", "h", FIELDS)


def submission(n: int) -> NewSubmission:
    return NewSubmission(f"{n:064x}", f"scan-{n}.pdf", 10, "scan", "paper", f"00000000-0000-4000-8000-{n:012x}",
                         "demo-pack", None, "demo", "1.0.0", "h", "", DEFINITION, f'["riverside-pcn","a","l{n}"]',
                         f"Learner {n}", "Riverside Surgery", "riverside-pcn", "riverside-pcn",
                         {"name": f"Learner {n}"}, {"slug": "riverside-pcn"},
                         [FieldValue("paper.notes", "read", None), FieldValue("paper.seen", "read", None),
                          FieldValue("paper.done", "read", True)])


def fill(store) -> list[int]:
    """Five copies: each with its notes to transcribe (page 2) and its radio group to decide (page 1), and
    a tick box read (not waiting). Copy 3 is superseded by copy 5, which has nothing waiting."""
    ids = []
    with store.transaction():
        for n in range(1, 5):
            sid = store.add_submission(submission(n), 1, None)
            ids.append(sid)
            store.add_scan_fields([
                ScanField(sid, "paper.notes", "", 2, 0.03, "written", "needs transcription", b"png"),
                ScanField(sid, "paper.seen", "yes", 1, 0.21, "ticked", "needs review"),
                ScanField(sid, "paper.seen", "no", 1, 0.25, "ticked", "needs review"),
                ScanField(sid, "paper.done", "", 1, 0.30, "ticked", "read")])
        newer = store.add_submission(submission(5), 2, ids[2])
        store.add_scan_fields([ScanField(newer, "paper.done", "", 1, 0.30, "ticked", "read")])
    return ids


def test_only_fields_waiting_are_listed_a_page_at_a_time(store_location):
    with open_store(store_location) as store:
        a, b, superseded, d = fill(store)
        enter_value(store, a, "paper.notes", "Met the team weekly.")
        rows, total = store.scan_waiting()
        assert total == 5  # a's radio group; b's and d's notes and group; c is superseded
        assert [(r.submission_id, r.field_id, r.option) for r in rows] == [
            (a, "paper.seen", "no"), (a, "paper.seen", "yes"),
            (b, "paper.seen", "no"), (b, "paper.seen", "yes"), (b, "paper.notes", ""),
            (d, "paper.seen", "no"), (d, "paper.seen", "yes"), (d, "paper.notes", "")]
        assert all(r.crop is None for r in rows)
        assert [r.has_crop for r in rows if r.field_id == "paper.notes"] == [True, True]
        second, total = pending_page(store, 2, 2)
        assert total == 5
        assert [(p.submission_id, p.field_id, p.page, p.learner) for p in second] == [
            (b, "paper.notes", 2, "Learner 2"), (d, "paper.seen", 1, "Learner 4")]
        assert second[1].marks == [("yes", 0.21, "ticked"), ("no", 0.25, "ticked")]
        assert second[1].options == ["yes", "no"] and second[0].has_crop
        last, _ = pending_page(store, 2, 4)
        assert [(p.submission_id, p.field_id) for p in last] == [(d, "paper.notes")]
        assert pending_page(store, 2, 6) == ([], 5)
        assert len(pending_fields(store)) == 5
        assert superseded not in {p.submission_id for p in pending_fields(store)}
