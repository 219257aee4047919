"""The Learners page's charts: figures worked out by hand for a small cohort."""

from generator.records.progress import Completion, Domain, LearnerProgress, Signatures
from generator.web.charts import progress_chart


def learner(key: str, *, pack: int | None, achieved: int = 0, signed: int = 0, values: int = 0) -> LearnerProgress:
    lp = LearnerProgress(key, key.title(), "riverside-pcn", "Riverside Surgery")
    if pack is not None:
        lp.pack_submission, lp.submissions = pack, [pack]
        # two domains of 5 areas, 8 values, 2 case studies
        lp.domains = [Domain("a", "A", min(achieved, 5), 5, signed >= 1), Domain("b", "B", max(0, achieved - 5), 5,
                                                                                 signed >= 2)]
        lp.values = Completion(values, 8)
        lp.case_studies = Completion(1, 2)
        lp.initial = Signatures(True)
    return lp


def test_learners_without_a_pack_count_as_nothing_done():
    chart = progress_chart([learner("zoe", pack=1, achieved=10, signed=2, values=8),
                            learner("siobhan", pack=2, achieved=4, signed=0, values=2),
                            learner("amir", pack=None), learner("bea", pack=None)])
    assert chart.title == ("Cohort progress: 2 of 4 learners returned a pack (2 returned anything); "
                           "the 2 without one count as nothing done")
    assert [(b.label, b.text) for b in chart.bars] == [
        ("Competency areas", "35% (14/40)"),
        ("Assessor sign-offs", "25% (2/8)"),
        ("Values worksheet", "31% (10/32)"),
        ("Case studies", "25% (2/8)"),
        ("Initial discussion", "50% (2/4)"),
        ("Final review", "0% (0/4)"),
    ]
    assert chart.bars[0].value == 35.0


def test_a_cohort_that_returned_everything_or_nothing():
    full = progress_chart([learner("zoe", pack=1, achieved=10, signed=2, values=8)])
    assert full.title == "Cohort progress: 1 of 1 learners returned a pack (1 returned anything)"
    assert full.bars[0].text == "100% (10/10)"
    none = progress_chart([learner("amir", pack=None)])
    assert none.title == "Cohort progress: 0 of 1 learners returned a pack (0 returned anything)"
    assert [b.text for b in none.bars] == ["0% (0/0)"] * 6
