"""PCN profile template text is bounded in time and output (a hostile-input case)."""

from __future__ import annotations

import pytest

from tests.hostile import run_cli_measured

#: What a refused profile may cost in memory.
MAX_MB = 400


@pytest.mark.parametrize(("footer", "reason"), [
    ("{% for i in range(100000) %}{% for j in range(100000) %}{% endfor %}{% endfor %}",
     "refused template text (range() of 100000 items; at most 1000)"),
    ("{% for i in range(1000) %}{% for j in range(1000) %}{% for k in range(1000) %}{% endfor %}{% endfor %}"
     "{% endfor %}", "refused template text (it takes longer than 2 s to render)"),
    # three loops over a string: 10**12 turns, never done in 2 s (two, 10**8, can finish in time on a quiet machine)
    ("{% set s = 'x' * 10000 %}{% for a in s %}{% for b in s %}{% for c in s %}{% endfor %}{% endfor %}{% endfor %}",
     "refused template text (it takes longer than 2 s to render)"),
    ("{% for i in range(1000) %}{% for j in range(1000) %}x{% endfor %}{% endfor %}",
     "refused template text (the result would be too long)"),
])
def test_template_loops_in_a_profile_are_bounded_in_time_and_output(tmp_path, footer, reason):
    import shutil

    import yaml

    from generator.content.loader import DEFAULT_CONTENT_DIR
    content = tmp_path / "content"
    shutil.copytree(DEFAULT_CONTENT_DIR, content)
    profile = content / "pcns" / "riverside-pcn" / "profile.yaml"
    profile.write_text(yaml.safe_dump({"name": "Riverside PCN", "footer": footer}), encoding="utf-8")
    run = run_cli_measured("check", "--content", str(content))
    assert run.code == 1 and run.peak_mb < MAX_MB
    assert f"pcns/riverside-pcn/profile.yaml: footer: {reason}" in run.err, run.err
