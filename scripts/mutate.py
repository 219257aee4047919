"""Mutation testing of the core modules with mutmut, one module at a time (``make mutate``).

Each module is mutated in its own copy of the project under build/mutation/NAME/, with only the tests
that exercise it, so a run costs minutes per module rather than the whole suite per mutant. mutmut runs
at the lowest CPU priority. Results: build/mutation/NAME.json (counts and the surviving mutants), and a
table printed at the end; docs/testing.md keeps the latest scores and explains each survivor.

    python scripts/mutate.py                  # every module below
    python scripts/mutate.py identifiers csv  # some of them
    python scripts/mutate.py --list           # the modules and their tests
    python scripts/mutate.py --survivors csv-fhir-export   # the last run's survivors again, after new tests
    MUTATE_JOBS=2 python scripts/mutate.py values   # more mutants at once (default 1)
    MUTATE_SUMMARY_ONLY=1 python scripts/mutate.py store-sqlite   # the table again from the kept results

A mutant is a small change to the code (a flipped comparison, a changed constant, a dropped call);
"killed" means some selected test failed with it in place. mutmut caches results in the copy, so a
rerun after adding tests checks only what changed.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "build" / "mutation"
COPY = ("generator", "tests", "content", "templates", "pyproject.toml", "README.md")

STORE_TESTS = ["tests/records/test_store_known.py", "tests/records/test_store.py", "tests/records/test_chain.py",
               "tests/records/test_store_read_only.py::test_a_store_opened_for_reading_refuses_every_write"]
#: modules whose tests need a PostgreSQL server
NEEDS_SERVER = ("store", "store-sqlite", "store-postgres")

#: name -> (module file, the tests that exercise it in-process, extra pytest arguments)
MODULES: dict[str, tuple[str, list[str], list[str]]] = {
    # the checks, and the scan of a record's values (normalising, budgets, evasions)
    "identifiers": ("generator/reading/identifiers.py",
                    ["tests/reading/test_identifiers.py", "tests/reading/test_identifier_evasion.py"], []),
    "values": ("generator/model/values.py", ["tests/model/test_values.py"], []),
    "dates": ("generator/dates.py", ["tests/model/test_values.py", "tests/test_dates.py"], []),
    # the export's known answers come from records built in the test; test_export.py (end to end, an ingest
    # per run) costs a minute a mutant and adds no kill (docs/testing.md)
    "csv-fhir-export": ("generator/records/export.py", ["tests/records/test_export_known.py"], []),
    # the store: the protocol and ledger checks, and each engine, from rows written in the test (test_store_known.py,
    # test_store.py, test_chain.py). The files that ingest real copies through reader processes to fill a store
    # (test_store_guarantees.py, test_copy.py, test_users.py with its argon2 hashing, test_postgres.py, the rest of
    # test_store_read_only.py) cost seconds a mutant and stay in `make test`.
    # The PostgreSQL cases run against one server this script starts for the whole run (PORTFOLIO_TEST_PG).
    # the protocol is the same code over either engine: its mutants run the SQLite cases only
    "store": ("generator/records/store.py", STORE_TESTS, ["-k", "not postgresql"]),
    "store-sqlite": ("generator/records/sqlite.py", STORE_TESTS, []),
    "store-postgres": ("generator/records/postgres.py", STORE_TESTS, []),
    # the readers' known answers from copies of a few objects each (milliseconds a test); the whole-pack round
    # trips through real editors (test_read*.py) cost tens of seconds a mutant
    "pdf-reader": ("generator/formats/pdf/read.py",
                   ["tests/formats/pdf/test_read_raw.py", "tests/formats/pdf/test_objects.py"], []),
    "pdf-objects": ("generator/formats/pdf/objects.py",
                    ["tests/formats/pdf/test_objects.py", "tests/formats/pdf/test_objects_known.py",
                     "tests/formats/pdf/test_read_raw.py"], []),
    "word-reader": ("generator/formats/docx/read.py", ["tests/formats/docx/test_read_raw.py"], []),
    # ingest's decisions from records built in the test, and two runs through the real reader processes
    # and its scan path (test_ingest_scans.py, scan results written in the test) and reader processes
    # (test_ingest_readers.py, real readers on tiny Word copies)
    "ingest": ("generator/records/ingest.py", ["tests/records/test_ingest_units.py", "tests/records/test_ingest_scans.py",
                                               "tests/records/test_ingest_readers.py"], []),
}

STATUSES = ("killed", "survived", "timeout", "suspicious", "no tests", "skipped", "segfault", "not checked",
            "check was interrupted by user")


#: A surviving mutant that only changes the letter case of an SQL statement: SQL keywords and unquoted names
#: mean the same in either case in both engines, so no test can tell it from the original (equivalent).
SQL_CASE = "equivalent: SQL case"
#: SQL as this code writes it: keywords in capitals (messages are written in lower case)
_SQL_WORD = re.compile(r"\b(SELECT|INSERT|UPDATE|DELETE|CREATE|FROM|WHERE|ORDER BY|GROUP BY|VALUES|LIMIT|JOIN|"
                       r"FOR EACH|AND|NOT|IN|BEGIN|COMMIT|ROLLBACK|SAVEPOINT|RELEASE|PRAGMA|SET|RETURNING|"
                       r"ON CONFLICT|DO NOTHING|COLLATE)\b")
#: the parts of SQL whose case matters: 'literals' and \"quoted identifiers\" (as written in Python source)
_SQL_QUOTED = re.compile(r"'[^']*'|\\\"[^\"\\]*\\\"")


def sql_case_only(diff: str) -> bool:
    """True when a mutant's diff (``mutmut show``) changes one line's case only, inside string literals that
    hold SQL (a keyword in capitals), leaving every 'literal' and \\"quoted identifier\\" of the line as it was
    (their case matters)."""
    minus = [line[1:] for line in diff.splitlines() if line.startswith("-") and not line.startswith("---")]
    plus = [line[1:] for line in diff.splitlines() if line.startswith("+") and not line.startswith("+++")]
    if len(minus) != 1 or len(plus) != 1 or minus[0] == plus[0] or minus[0].lower() != plus[0].lower():
        return False
    before, after = minus[0], plus[0]
    if _SQL_QUOTED.findall(before) != _SQL_QUOTED.findall(after):
        return False
    strings = re.compile(r'"((?:[^"\\]|\\.)*)"')
    changed = [text for text in strings.findall(before) if f'"{text}"' not in after]
    return bool(changed) and all(_SQL_WORD.search(text) for text in changed)


def config(module: str, tests: list[str], extra: list[str]) -> str:
    def toml_list(items: list[str]) -> str:
        return "[" + ", ".join(json.dumps(i) for i in items) + "]"
    return (
        "\n\n[tool.mutmut]\n"
        'source_paths = ["generator"]\n'
        f"only_mutate = {toml_list([module])}\n"
        'also_copy = ["content", "templates", "README.md"]\n'
        f"pytest_add_cli_args_test_selection = {toml_list(tests)}\n"
        f"pytest_add_cli_args = {toml_list(['-p', 'no:cacheprovider', '-q', '-x', *extra])}\n"
        # a mutant is "timeout" only when it hangs: a busy shared machine must not make slow tests look so.
        # mutmut's limit is CPU time, ceil((tests' time + constant) * multiplier * 2): 30 times the tests' own
        # time plus 120 s (a constant of 120 made it an hour of CPU for a mutant that loops)
        "timeout_constant = 4.0\n"
        "timeout_multiplier = 15.0\n"
    )


def prepare(name: str) -> Path:
    module, tests, extra = MODULES[name]
    work = OUT / name
    work.mkdir(parents=True, exist_ok=True)
    for item in COPY:
        source, target = ROOT / item, work / item
        if source.is_dir():
            shutil.copytree(source, target, dirs_exist_ok=True,
                            ignore=shutil.ignore_patterns("__pycache__", ".hypothesis", "*.pyc"))
        else:
            shutil.copy2(source, target)
    pyproject = (ROOT / "pyproject.toml").read_text(encoding="utf-8")
    (work / "pyproject.toml").write_text(pyproject + config(module, tests, extra), encoding="utf-8")
    return work


def run(name: str, jobs: int, again: bool = False, only_again: bool = False) -> dict:
    previous = OUT / f"{name}.json"
    survivors = json.loads(previous.read_text(encoding="utf-8"))["survivors"] \
        if (again or only_again) and previous.exists() else []
    work = prepare(name)
    env = dict(os.environ, CI="true", PATH=f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}",
               PORTFOLIO_MUTATE_PACKS=str(work / "packs"))  # blank packs rendered once (tests/conftest.py)
    stop = None
    if name in NEEDS_SERVER and not os.environ.get("PORTFOLIO_TEST_PG") and not os.environ.get("MUTATE_SUMMARY_ONLY"):
        # one server for every mutant (each mutant's pytest session would otherwise start its own)
        sys.path.insert(0, str(ROOT))
        from tests.pg import start_server
        base = Path(tempfile.mkdtemp(prefix="mutate-pg-"))
        server, stop = start_server(base)
        env["PORTFOLIO_TEST_PG"] = server.admin_url
    try:
        return _run(name, jobs, work, env, survivors, only_again)
    finally:
        if stop:
            stop()


def _run(name: str, jobs: int, work: Path, env: dict, survivors: list[str], only_again: bool = False) -> dict:
    mutmut = [sys.executable, "-m", "mutmut"]
    log = OUT / f"{name}.log"
    with log.open("w", encoding="utf-8") as handle:
        # mutmut keeps a mutant's result until its function changes: new mutants are checked by a plain run,
        # survivors again only by name
        # (--survivors-only: the survivors alone, leaving mutants not checked yet for a later run)
        for names in [] if os.environ.get("MUTATE_SUMMARY_ONLY") else \
                ([survivors] if only_again else [[], survivors]) if survivors else ([],):
            subprocess.run(["nice", "-n", os.environ.get("MUTATE_NICE", "10"), *mutmut, "run", "--max-children",
                            str(jobs), *names], cwd=work, env=env, stdout=handle, stderr=subprocess.STDOUT,
                           check=False)
    listing = subprocess.run([*mutmut, "results", "--all", "true"], cwd=work, env=env, capture_output=True,
                             text=True, check=True).stdout
    results = {}
    for line in listing.splitlines():
        if m := re.match(r"^\s*(\S+): (.+)$", line):
            results[m[1]] = m[2].strip()
    sql_case = [] if name not in NEEDS_SERVER else sorted(  # only the store's modules hold SQL
        k for k, v in results.items() if v in ("survived", "no tests")
        and sql_case_only(subprocess.run([*mutmut, "show", k], cwd=work, env=env, capture_output=True, text=True,
                                         check=False).stdout))
    for k in sql_case:
        results[k] = SQL_CASE
    counts = {s: sum(1 for v in results.values() if v == s) for s in (*STATUSES, SQL_CASE)}
    counts = {s: n for s, n in counts.items() if n}
    checked = counts.get("killed", 0) + counts.get("survived", 0) + counts.get("timeout", 0) \
        + counts.get("no tests", 0) + counts.get("suspicious", 0)
    killed = counts.get("killed", 0) + counts.get("timeout", 0)  # a mutant that hangs the tests is caught
    summary = {"module": MODULES[name][0], "tests": MODULES[name][1], "mutants": len(results), "counts": counts,
               "score": round(100 * killed / checked, 1) if checked else None,
               # the score with the SQL-case mutants counted as survivors too
               "score_raw": round(100 * killed / (checked + len(sql_case)), 1) if checked + len(sql_case) else None,
               "survivors": sorted(k for k, v in results.items() if v in ("survived", "no tests", "suspicious")),
               "sql_case": sql_case}
    (OUT / f"{name}.json").write_text(json.dumps(summary, indent=1) + "\n", encoding="utf-8")
    return summary


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("modules", nargs="*", help=f"any of: {', '.join(MODULES)} (default: all)")
    parser.add_argument("--list", action="store_true", help="list the modules and their tests")
    parser.add_argument("--survivors", action="store_true",
                        help="check the last run's surviving mutants again (after adding tests for them)")
    parser.add_argument("--survivors-only", action="store_true",
                        help="check only the last run's surviving mutants again (a run stopped part-way: its "
                             "unchecked mutants wait for a plain run)")
    args = parser.parse_args(argv)
    if args.list:
        for name, (module, tests, extra) in MODULES.items():
            print(f"{name:16} {module}  <- {' '.join(tests)} {' '.join(extra)}")
        return 0
    unknown = [m for m in args.modules if m not in MODULES]
    if unknown:
        parser.error(f"unknown module(s) {', '.join(unknown)}; choose from {', '.join(MODULES)}")
    jobs = int(os.environ.get("MUTATE_JOBS", "1"))
    rows = []
    for name in args.modules or list(MODULES):
        print(f"mutating {name} ({MODULES[name][0]}) ...", flush=True)
        summary = run(name, jobs, args.survivors, args.survivors_only)
        rows.append((name, summary))
        print(f"  {summary['score']}% killed of {summary['mutants']} mutants: {summary['counts']}", flush=True)
    print(f"\n{'module':16} {'mutants':>7} {'killed':>7} {'survived':>8} {'score':>6}")
    for name, s in rows:
        c = s["counts"]
        print(f"{name:16} {s['mutants']:>7} {c.get('killed', 0) + c.get('timeout', 0):>7} "
              f"{c.get('survived', 0) + c.get('no tests', 0) + c.get('suspicious', 0):>8} "
              f"{'-' if s['score'] is None else s['score']:>5}%")
    print(f"\nsurvivors listed in {OUT.relative_to(ROOT)}/NAME.json; see docs/testing.md")
    return 0


if __name__ == "__main__":
    sys.exit(main())
