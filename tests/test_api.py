"""The use-case layer: plain arguments in, plain results out, PortfolioErrors for bad input."""

from __future__ import annotations

import shutil

import pytest

from generator import api
from generator.errors import ContentError, FillError, IssueError, OptionError, RecordsError, RosterError
from generator.errors import StoreError
from tests.conftest import ROOT

HEADER = "name,practice,pcn,supervisor,facilitator,start_date\n"


def test_check_reports_the_shipped_content_and_profiles():
    result = api.check()
    assert (result.content_id, result.version, result.sections) == ("care-coordination-portfolio", "1.0.0", 17)
    assert result.profiles == ["riverside-pcn"]
    assert result.fields == 352  # optional forms included; the default pack has 322
    assert len(api.fields()) == 322


def test_check_raises_every_content_problem(tmp_path):
    content = tmp_path / "content"
    shutil.copytree(ROOT / "content", content)
    pack = content / "pack.yaml"
    pack.write_text(pack.read_text(encoding="utf-8").replace("version:", "versio:", 1), encoding="utf-8")
    with pytest.raises(ContentError) as caught:
        api.check(content)
    assert any(p.file == "pack.yaml" for p in caught.value.problems)


def test_build_names_an_unknown_optional_form_as_an_option_error(tmp_path):
    with pytest.raises(OptionError) as caught:
        api.build(tmp_path, include=["pcsp", "nope"])
    assert caught.value.option == "include"
    assert str(caught.value) == "'nope' is not an optional section (choose from: mdt_review, pcsp)"
    assert list(tmp_path.iterdir()) == []
    with pytest.raises(OptionError):
        api.build(tmp_path, formats=["odt"])


def test_profiles_new_list_and_check(tmp_path):
    content = tmp_path / "content"
    shutil.copytree(ROOT / "content", content)
    path = api.profile_new("hillside-pcn", "Hillside Primary Care Network", content)
    assert path == content / "pcns" / "hillside-pcn" / "profile.yaml"
    assert api.profile_list(content) == ["hillside-pcn", "riverside-pcn"]
    assert api.profile_check("hillside-pcn", content) == []
    path.write_text(path.read_text(encoding="utf-8") + "\nnot_a_key: 1\n", encoding="utf-8")
    problems = api.profile_check("hillside-pcn", content)
    assert len(problems) == 1 and "not_a_key" in str(problems[0])
    assert api.profile_check(None, content) == problems


def test_plan_issue_checks_the_roster_and_warns_about_unknown_practices(tmp_path):
    roster = tmp_path / "roster.csv"
    roster.write_text(HEADER + "Åsa Øberg,Nowhere Surgery,riverside-pcn,Dr A Okafor,Jo Bennett,01/09/2026\n",
                      encoding="utf-8")
    plan = api.plan_issue(roster, "2026 autumn", out_dir=tmp_path / "out", formats=["pdf"])
    assert plan.pcns == ["riverside-pcn"]
    assert plan.cohort_dir == tmp_path / "out" / "2026-autumn"
    assert [l.name for l in plan.learners] == ["Åsa Øberg"]
    assert len(plan.warnings) == 1
    assert plan.warnings[0].startswith("roster.csv: line 2: practice 'Nowhere Surgery' is not among riverside-pcn's")
    assert not (tmp_path / "out").exists()  # planning writes nothing

    roster.write_text(HEADER + "Åsa Øberg,Nowhere Surgery,no-such-pcn,Dr A Okafor,Jo Bennett,31/02/2026\n",
                      encoding="utf-8")
    with pytest.raises(RosterError) as caught:
        api.plan_issue(roster, "2026 autumn", out_dir=tmp_path / "out")
    assert [p.path for p in caught.value.problems] == ["line 2", "line 2"]
    assert "unknown PCN 'no-such-pcn'" in caught.value.problems[0].message
    assert "'31/02/2026' is not a date" in caught.value.problems[1].message

    roster.write_text(HEADER + "Åsa Øberg,Riverside Surgery,riverside-pcn,Dr A Okafor,Jo Bennett,01/09/2026\n",
                      encoding="utf-8")
    with pytest.raises(IssueError, match="cohort name '!!!' needs letters or digits"):
        api.plan_issue(roster, "!!!", out_dir=tmp_path / "out")
    with pytest.raises(OptionError):
        api.plan_issue(roster, "2026 autumn", out_dir=tmp_path / "out", feedback_forms=51)


def test_record_values_accepts_a_record_a_plain_object_or_a_json_file(tmp_path):
    assert api.record_values({"fields": {"a.b": "x"}, "warnings": []}) == {"a.b": "x"}
    assert api.record_values({"a.b": True}) == {"a.b": True}
    path = tmp_path / "answers.json"
    path.write_text('{"fields": {"a.b": null}}', encoding="utf-8")
    assert api.record_values(path) == {"a.b": None}
    path.write_text("[1, 2]", encoding="utf-8")
    with pytest.raises(FillError, match="answers.json: expected a JSON object of field id -> value"):
        api.record_values(path)
    path.write_text("{", encoding="utf-8")
    with pytest.raises(FillError, match="answers.json: not a JSON record"):
        api.record_values(path)


def test_fill_then_read_gives_the_values_back_and_progress_counts_up(tmp_path, pdf_path):
    values = {"cover.details.name": "Dafydd ap Gruffudd", "cover.details.start_date": "2026-09-01"}
    filled = api.fill(pdf_path, values, tmp_path / "filled.pdf")
    assert (filled.format, filled.values, filled.output) == ("pdf", 2, tmp_path / "filled.pdf")
    with pytest.raises(FillError, match="the pack is a PDF; name the output .pdf"):
        api.fill(pdf_path, values, tmp_path / "filled.docx")
    result = api.read(filled.output, tmp_path / "record.json")
    assert result.record.fields["cover.details.name"] == "Dafydd ap Gruffudd"
    assert result.record.fields["cover.details.start_date"] == "2026-09-01"
    assert result.record.warnings == []  # the shipped content's own version
    assert (tmp_path / "record.json").read_text(encoding="utf-8") == result.json

    store = tmp_path / "records.sqlite"
    with pytest.raises(StoreError, match="no records store here"):
        api.records(store)
    calls = []
    ingested = api.ingest([filled.output], store=store, progress=lambda done, total: calls.append((done, total)))
    assert calls == [(0, 1), (1, 1)]
    assert [o.status for o in ingested.files] == ["new"]
    assert api.store_exists(store)
    learners = api.records(store)
    assert [lp.name for lp in learners] == ["Dafydd ap Gruffudd"]
    with pytest.raises(RecordsError, match=r"no learners in PCN elsewhere-pcn \(PCNs in the store: "):
        api.records(store, ["elsewhere-pcn"])
    exported = api.export(store, "csv-long", output=tmp_path / "long.csv")
    assert (tmp_path / "long.csv").read_text(encoding="utf-8") == exported.text
    assert "cover.details.name" in exported.text
    with pytest.raises(OptionError) as caught:
        api.export(store, "fhir", fhir_base="ftp://example.org")
    assert caught.value.option == "fhir_base"
    with pytest.raises(OptionError):
        api.export(store, "xml")


def test_a_file_that_is_not_ours_is_refused_with_its_code(tmp_path):
    import docx

    from generator.errors import ReadError
    docx.Document().save(str(tmp_path / "letter.docx"))  # a Word file, but not one of our packs
    with pytest.raises(ReadError) as caught:
        api.read(tmp_path / "letter.docx")
    assert caught.value.code == "E-READ-FOREIGN"
    assert str(caught.value).startswith("letter.docx: was not generated by this tool")
    result = api.ingest([tmp_path / "letter.docx"], store=tmp_path / "records.sqlite", jobs=1)
    assert [(o.name, o.status, o.code) for o in result.files] == [("letter.docx", "rejected", "E-READ-FOREIGN")]


def test_sign_in_session_user_and_sign_out_go_through_the_store(tmp_path):
    from generator.records.connect import open_store
    from generator.records.users import add_user, set_disabled
    with open_store(tmp_path / "records.sqlite") as store:
        add_user(store, "lead@training.example", "provider", None, "a long enough password")
        wrong = api.sign_in("lead@training.example", "not it", store)
        assert wrong.user is None and wrong.reason == "The email or password is not right."
        right = api.sign_in("Lead@Training.example", "a long enough password", store)
        assert right.user is not None and right.user.email == "lead@training.example"
        assert api.signed_in_user("lead@training.example", store).role == "provider"
        api.sign_out("lead@training.example", store)
        assert [(e.action, e.detail) for e in store.audit()][-3:] == [
            ("sign-in failed", "lead@training.example"), ("signed in", "lead@training.example"),
            ("signed out", "lead@training.example")]
        set_disabled(store, "lead@training.example")
        assert api.signed_in_user("lead@training.example", store) is None
        assert api.signed_in_user("nobody@training.example", store) is None


def test_an_export_or_report_is_audited_only_when_asked_and_the_log_reads_newest_first(tmp_path):
    """The web app's downloads are recorded through the use cases, as the command line's are not."""
    from generator.records.connect import open_store
    with open_store(tmp_path / "records.sqlite") as store:
        with store.transaction():
            store.add_audit("register", detail="first")
        assert '"records": []' in api.export(store, "json").text
        assert api.export(store, "csv", audit="csv through the web app").text.startswith("submission_id,")
        api.report_document(store, "csv")
        api.report_document(store, "csv", audit="report csv through the web app")
        assert [(e.action, e.detail) for e in store.audit()] == [
            ("register", "first"), ("exported", "csv through the web app"),
            ("exported", "report csv through the web app")]
    log = api.audit_log(tmp_path / "records.sqlite")
    assert [e.detail for e in log.entries] == ["report csv through the web app", "csv through the web app", "first"]
    assert log.total == 3
    latest = api.audit_log(tmp_path / "records.sqlite", latest=2)
    assert [e.detail for e in latest.entries] == ["report csv through the web app", "csv through the web app"]
    assert latest.total == 3


def test_profile_save_writes_the_profile_and_logo_then_audits_the_keys_changed(tmp_path):
    from generator.records.connect import open_store
    folder = tmp_path / "content" / "pcns" / "riverside-pcn"
    folder.mkdir(parents=True)
    (folder / "profile.yaml").write_text("name: Old\n", encoding="utf-8")
    with open_store(tmp_path / "records.sqlite") as store:
        api.profile_save(folder, b"name: Riverside PCN\n", store, logo=b"PNG", changed=["name", "logo (uploaded)"])
        api.profile_save(folder, b"name: Riverside PCN\n", store)
        assert [(e.action, e.filename, e.detail) for e in store.audit()] == [
            ("profile saved", "pcns/riverside-pcn/profile.yaml", "riverside-pcn: name, logo (uploaded)"),
            ("profile saved", "pcns/riverside-pcn/profile.yaml", "riverside-pcn: no change")]
    assert (folder / "profile.yaml").read_bytes() == b"name: Riverside PCN\n"
    assert (folder / "logo.png").read_bytes() == b"PNG"
    assert sorted(p.name for p in folder.iterdir()) == ["logo.png", "profile.yaml"]


def test_upload_stores_under_the_learners_name_audits_each_file_and_lists_a_conflicts_fields(tmp_path, form, theme):
    from generator.formats.docx.fill import fill_docx
    from generator.formats.docx.stamp import DocxStamp
    from generator.formats.docx.write import write_docx
    from generator.model.manifest import make_manifest
    from generator.records.connect import open_store
    blank = write_docx(form, theme, make_manifest(form))
    instance = "00000000-0000-4000-8000-000000000031"
    manifest = make_manifest(form, instance_id=instance, learner={"name": "Ann Example", "practice": "Riverside"},
                             pcn={"slug": "riverside-pcn", "name": "Riverside PCN"})
    stamped = DocxStamp(blank, []).stamp({}, manifest)
    first = fill_docx(stamped, {"cover.details.supervisor": "Dr A"})
    changed = fill_docx(stamped, {"cover.details.supervisor": "Dr B"})
    with open_store(tmp_path / "records.sqlite") as store:
        [done] = api.upload([("Ann's copy.docx", "Ann_s copy.docx", first)], store, refused=[("notes.txt", "no")],
                            jobs=1)
        assert (done.file, done.name, done.outcome.status, done.pcn, done.differing) == (
            0, "Ann's copy.docx", "new", "riverside-pcn", [])
        assert done.learner_key == store.submissions()[0].learner_key
        assert store.submissions()[0].filename == "Ann_s copy.docx"
        [other] = api.upload([("again.docx", "again.docx", changed)], store, jobs=1, only_pcn="hilltop-pcn")
        assert (other.outcome.status, other.differing) == ("rejected", [])  # another PCN's: nothing said
        [conflict] = api.upload([("again.docx", "again.docx", changed)], store, jobs=1)
        assert (conflict.outcome.status, conflict.differing) == ("conflict", ["cover.details.supervisor"])
        assert api.upload([], store, refused=[("empty.pdf", "file is empty")]) == []
        assert [(e.action, e.filename, e.detail) for e in store.audit() if e.action.startswith("upload")] == [
            ("upload rejected", "notes.txt", "no"), ("uploaded", "Ann's copy.docx", "new through the web app"),
            ("uploaded", "again.docx", "rejected through the web app"),
            ("uploaded", "again.docx", "conflict through the web app"), ("upload rejected", "empty.pdf", "file is empty")]


def test_upload_lists_the_fields_of_a_conflict_with_a_printed_copy_by_their_words(tmp_path, form, theme):
    """Ingest compares a copy with a stored printed copy (read from its pages' text, white space collapsed) by its
    words; the fields the page lists must be the same as the conflict's, not those differing in white space only."""
    from dataclasses import replace

    from generator.formats.docx.fill import fill_docx
    from generator.formats.docx.stamp import DocxStamp
    from generator.formats.docx.write import write_docx
    from generator.model.manifest import make_manifest
    from generator.records.connect import open_store
    from generator.records.ingest import new_submission, read_copy, store_submission
    blank = write_docx(form, theme, make_manifest(form))
    manifest = make_manifest(form, instance_id="00000000-0000-4000-8000-000000000032",
                             learner={"name": "Ann Example", "practice": "Riverside"},
                             pcn={"slug": "riverside-pcn", "name": "Riverside PCN"})
    stamped = DocxStamp(blank, []).stamp({}, manifest)
    printed = tmp_path / "printed.docx"
    printed.write_bytes(fill_docx(stamped, {"schedule.plan.ws1.m1": "Met Dr A", "cover.details.supervisor": "Dr A"}))
    with open_store(tmp_path / "records.sqlite") as store:
        as_read = replace(new_submission(printed, "9" * 64, 1, read_copy(printed.read_bytes(), printed.name)),
                          format="scan")  # as its text was read from a printed page
        assert store_submission(store, as_read, False)[0] == "new"
        changed = fill_docx(stamped, {"schedule.plan.ws1.m1": "Met  Dr A ", "cover.details.supervisor": "Dr B"})
        [conflict] = api.upload([("ann.docx", "ann.docx", changed)], store, jobs=1)
        assert conflict.outcome.status == "conflict"
        assert "other answers in 1 field(s): cover.details.supervisor;" in conflict.outcome.reason
        assert conflict.differing == ["cover.details.supervisor"]
