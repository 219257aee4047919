"""The Learners dashboard: filtered by cohort and PCN, kept up to date after every change to the store."""

from __future__ import annotations

from generator.records.connect import open_store
from generator.records.ingest import ingest
from generator.records.register import import_register
from tests.web.conftest import DAFYDD, HILLTOP, HILLTOP_PCN, PROVIDER, RIVERSIDE, ZOE, iid

ACHIEVED = "competencies.personalised_care.focus_on_what_matters.achieved"
REGISTER = "instance_id,learner,practice,pcn\n{rows}"


def register(folder, rows: list[tuple[str, str, str, str]]):
    folder.mkdir(parents=True)
    path = folder / "issued.csv"
    path.write_text(REGISTER.format(rows="".join(",".join(r) + "\n" for r in rows)), encoding="utf-8")
    return path


def names(page: str) -> list[str]:
    return [chunk.split("</a>")[0].split('">', 1)[1] for chunk in page.split('<th scope="row" role="rowheader"><a href="/learners/')[1:]]


def test_the_dashboard_filters_by_cohort_and_pcn(as_user, store_file):
    autumn = register(store_file.parent / "build" / "2026-autumn", [
        (iid(41), ZOE["name"], ZOE["practice"], "riverside-pcn"),
        (iid(42), DAFYDD["name"], DAFYDD["practice"], "hilltop-pcn")])
    spring = register(store_file.parent / "build" / "2027-spring", [
        (iid(43), "Aled Jones", "Riverside Surgery", "riverside-pcn")])
    with open_store(store_file) as store:
        import_register(store, autumn)
        import_register(store, spring)
    provider = as_user(PROVIDER)
    everyone = provider.get("/").get_data(True)
    assert names(everyone) == ["Aled Jones", "Dafydd ap Gruffudd", "Zoë Łukasiewicz"]  # by name
    assert '<option value="2026-autumn">2026-autumn</option>' in everyone and "cohort 2027-spring" in everyone
    assert names(provider.get("/?cohort=2026-autumn").get_data(True)) == ["Dafydd ap Gruffudd", "Zoë Łukasiewicz"]
    assert names(provider.get("/?cohort=2026-autumn&pcn=riverside-pcn").get_data(True)) == ["Zoë Łukasiewicz"]
    assert names(provider.get("/?cohort=2027-spring&sort=name&order=desc").get_data(True)) == ["Aled Jones"]
    assert names(provider.get("/?cohort=no-such-cohort").get_data(True)) == []
    # a PCN manager's cohorts and learners are their PCN's only
    hilltop = as_user(HILLTOP).get("/").get_data(True)
    assert names(hilltop) == ["Dafydd ap Gruffudd"] and "2027-spring" not in hilltop
    assert names(as_user(HILLTOP).get("/?cohort=2027-spring").get_data(True)) == []


def test_the_dashboard_follows_each_change_to_the_store(as_user, store_file, make_copy):
    """Progress is kept between requests and worked out again for what changed: a new copy, a new
    version, a cleared flag."""
    provider = as_user(PROVIDER)
    assert names(provider.get("/").get_data(True)) == []
    folder = store_file.parent / "in"
    folder.mkdir()
    (folder / "zoe.docx").write_bytes(make_copy(iid(44), {ACHIEVED: True,
                                                          "case_studies.studies.case_1.overview": "NHS 943 476 5919"}))
    with open_store(store_file) as store:
        ingest([folder], store, jobs=1)
    page = provider.get("/").get_data(True)
    row = page[page.index(">Zoë Łukasiewicz</a>"):].split("</tr>")[0]
    assert '<td role="cell" data-label="Competency areas">1/31</td>' in row and ">review<" in row
    (folder / "zoe.docx").write_bytes(make_copy(iid(44), {}))
    with open_store(store_file) as store:
        assert [f.status for f in ingest([folder], store, jobs=1, supersede=True).files] == ["superseded"]
    page = provider.get("/").get_data(True)
    row = page[page.index(">Zoë Łukasiewicz</a>"):].split("</tr>")[0]
    assert 'data-label="Competency areas">0/31</td>' in row and ">review<" not in row  # version 2 has neither the area nor the flag
    (folder / "dafydd.docx").write_bytes(make_copy(iid(45), {ACHIEVED: True}, DAFYDD, HILLTOP_PCN))
    (folder / "zoe.docx").unlink()
    with open_store(store_file) as store:
        ingest([folder], store, jobs=1)
    assert names(provider.get("/").get_data(True)) == ["Dafydd ap Gruffudd", "Zoë Łukasiewicz"]
    assert names(as_user(RIVERSIDE).get("/").get_data(True)) == ["Zoë Łukasiewicz"]


def test_a_cleared_flag_leaves_the_review_filter(as_user, store_file, make_copy):
    from generator.records.review import clear
    folder = store_file.parent / "in"
    folder.mkdir()
    (folder / "zoe.docx").write_bytes(make_copy(iid(46), {"case_studies.studies.case_1.overview":
                                                          "Seen with NHS 943 476 5919"}))
    with open_store(store_file) as store:
        [outcome] = ingest([folder], store, jobs=1).files
    provider = as_user(PROVIDER)
    assert names(provider.get("/?status=review").get_data(True)) == ["Zoë Łukasiewicz"]
    with open_store(store_file) as store:
        clear(store, str(outcome.submission_id), "checked: a made-up number")
    assert names(provider.get("/?status=review").get_data(True)) == []


def test_a_worker_works_out_progress_before_its_first_request(app, store_file, make_copy, tmp_path):
    from generator.web import create_app, views
    folder = store_file.parent / "in"
    folder.mkdir()
    (folder / "zoe.docx").write_bytes(make_copy(iid(47), {ACHIEVED: True}))
    with open_store(store_file) as store:
        ingest([folder], store, jobs=1)
        path = store.path
    views._PROGRESS.pop(path, None)
    views.warm_up(app)
    assert [(lp.name, lp.competencies) for lp in views._PROGRESS[path][1]] == [("Zoë Łukasiewicz", (1, 31))]
    # a store that is not there yet is left for the requests to report, and nothing is created
    (tmp_path / "none").mkdir()
    views.warm_up(create_app(tmp_path / "none" / "records.sqlite", key="k" * 64))
    assert not (tmp_path / "none" / "records.sqlite").exists()


def test_each_progress_column_of_a_row_shows_its_figure(as_user, store_file, make_copy):
    """Every column holds done/total (a row is a dict: a 'values' column must not show dict.values)."""
    folder = store_file.parent / "in"
    folder.mkdir()
    (folder / "zoe.docx").write_bytes(make_copy(iid(46), {ACHIEVED: True}))
    with open_store(store_file) as store:
        ingest([folder], store, jobs=1)
    page = as_user(PROVIDER).get("/").get_data(True)
    row = page[page.index(">Zoë Łukasiewicz</a>"):].split("</tr>")[0]
    assert ('<td role="cell" data-label="Competency areas">1/31</td><td role="cell" data-label="Sign-offs">0/5</td>'
            '<td role="cell" data-label="Values">0/8</td><td role="cell" data-label="Case studies">0/3</td>') in row
    assert "built-in method" not in page
