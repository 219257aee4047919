"""WeasyPrint is imported without running child processes to find its libraries, and ends up with
the same libraries as an ordinary import (``generator.formats.pdf.renderer``)."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from tests.conftest import ROOT

PROBE = """
import json, sys
spawned = []
sys.addaudithook(lambda event, args: spawned.append(str(args[0])) if event == "subprocess.Popen" else None)
{load}
with open("/proc/self/maps") as maps:
    libraries = sorted({{line.split()[-1].rsplit("/", 1)[-1] for line in maps
                        if any(k in line for k in ("libpango", "libharfbuzz", "libfontconfig", "libgobject"))}})
print(json.dumps({{"spawned": spawned, "libraries": libraries}}))
"""


def probe(load: str) -> dict:
    done = subprocess.run([sys.executable, "-c", PROBE.format(load=load)], cwd=ROOT, capture_output=True, text=True,
                          timeout=120, env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert done.returncode == 0, done.stderr[-2000:]
    return json.loads(done.stdout.splitlines()[-1])


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="the library search is skipped on Linux only")
def test_the_writer_loads_weasyprint_without_child_processes_and_with_the_same_libraries():
    ours = probe("import generator.formats.pdf.write")
    plain = probe("import weasyprint")
    assert ours["spawned"] == []
    assert {"libpango-1.0.so.0", "libharfbuzz.so.0", "libfontconfig.so.1", "libgobject-2.0.so.0"} <= {
        name.split(".so")[0] + ".so." + name.split(".so.")[1].split(".")[0] for name in ours["libraries"]}
    assert ours["libraries"] == plain["libraries"]
