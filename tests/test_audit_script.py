"""'make audit' (scripts/audit.sh) is honest: 0 only for a real, clean audit."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import ROOT

CLEAN = [{"name": "lxml", "version": "5.0", "vulns": []}, {"name": "pypdf", "version": "5.0", "vulns": []}]
NOTHING = [{"name": "lxml", "version": "5.0", "skip_reason": "Dependency not found on PyPI and could not be audited"}]
VULNERABLE = [{"name": "lxml", "version": "5.0", "vulns": [{"id": "PYSEC-0000-1", "fix_versions": ["5.1"]}]}]


def fake_bin(tmp_path: Path, dependencies: list | None) -> Path:
    """A bin folder whose pip-audit writes ``dependencies`` as its JSON report (None: it fails
    without a report, as when no service can be reached)."""
    folder = tmp_path / "bin"
    folder.mkdir()
    (folder / "python").symlink_to(sys.executable)
    if dependencies is None:
        body = "echo 'ConnectionError: no route to host' >&2; exit 1"
    else:
        report = json.dumps({"dependencies": dependencies})
        body = ('while [ $# -gt 0 ]; do if [ "$1" = --output ]; then out=$2; fi; shift; done\n'
                f"printf '%s' '{report}' > \"$out\"")
    (folder / "pip-audit").write_text(f"#!/usr/bin/env bash\n{body}\n")
    (folder / "pip-audit").chmod(0o755)
    return folder


@pytest.mark.parametrize(("dependencies", "env", "code", "says"), [
    (CLEAN, {}, 0, "pip-audit: 2 packages audited with pypi, no known vulnerabilities"),
    (VULNERABLE, {}, 1, "lxml 5.0: PYSEC-0000-1 (fixed in 5.1)"),
    (VULNERABLE, {"AUDIT_UNREACHABLE_OK": "1"}, 1, "1 of 1 audited packages have known vulnerabilities"),
    (NOTHING, {}, 1, "NOT PERFORMED"),
    (None, {}, 1, "could not use the pypi vulnerability service"),
    (NOTHING, {"AUDIT_UNREACHABLE_OK": "1"}, 0, "continuing because AUDIT_UNREACHABLE_OK=1 (the audit was NOT "
                                                "performed)"),
])
def test_audit_exit_code_says_whether_anything_was_audited(tmp_path, dependencies, env, code, says):
    run = subprocess.run(["bash", str(ROOT / "scripts" / "audit.sh"), str(fake_bin(tmp_path, dependencies))],
                         capture_output=True, text=True, env={**os.environ, **env}, timeout=120)
    assert run.returncode == code, run.stdout + run.stderr
    assert says in run.stdout + run.stderr
