"""scripts/mutate.py's one judgement of its own: which surviving mutants only change the letter case of SQL."""

from __future__ import annotations

import importlib.util
from pathlib import Path

SCRIPT = Path(__file__).resolve().parent.parent / "scripts" / "mutate.py"


def _script():
    spec = importlib.util.spec_from_file_location("mutate_script", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def diff(before: str, after: str) -> str:
    return f"--- a\n+++ b\n@@ -1 +1 @@\n-{before}\n+{after}\n"


def test_only_a_case_change_of_sql_without_quoted_text_is_set_apart():
    case_only = _script().sql_case_only
    assert case_only(diff('    rows = db.execute("SELECT id FROM users")', '    rows = db.execute("select id from users")'))
    assert case_only(diff('    db.execute("BEGIN IMMEDIATE")', '    db.execute("begin immediate")'))
    assert case_only(diff('    db.execute("PRAGMA journal_mode=WAL")', '    db.execute("pragma journal_mode=wal")'))
    assert case_only(diff('    db.execute("SAVEPOINT batch_file")', '    db.execute("savepoint batch_file")'))
    assert case_only(diff('    db.execute("ROLLBACK TO batch_file")', '    db.execute("rollback to batch_file")'))
    # a quoted SQL literal's case matters ('scan' is not 'SCAN')
    assert not case_only(diff('''    db.execute("SELECT 1 WHERE format = 'scan'")''',
                              '''    db.execute("select 1 where format = 'SCAN'")'''))
    # a message is not SQL; nor is a change that is more than case
    assert not case_only(diff('    raise StoreError("the store is locked")', '    raise StoreError("THE STORE IS LOCKED")'))
    assert not case_only(diff('    db.execute("SELECT id FROM users")', '    db.execute("SELECT id FROM user")'))
    assert not case_only(diff('    db.execute("SELECT id FROM users")', '    db.execute("SELECT id FROM users")'))
    # two lines changed at once is never a case change of one string
    assert not case_only('--- a\n+++ b\n-    a = "SELECT 1"\n-    b = "SELECT 2"\n+    a = "select 1"\n+    b = "select 2"\n')


def test_sql_whose_literals_and_quoted_names_keep_their_case_is_set_apart():
    case_only = _script().sql_case_only
    assert case_only(diff('''        "AND data_type = 'text'", (table,))}''', '''        "and data_type = 'text'", (table,))}'''))
    assert case_only(diff('    self._db.execute("SET default_transaction_read_only = on")',
                          '    self._db.execute("set default_transaction_read_only = on")'))
    assert case_only(diff('        "RETURNING id",', '        "returning id",'))
    assert case_only(diff('        "ON CONFLICT (source_sha256, page_index) DO NOTHING",',
                          '        "ON CONFLICT (SOURCE_SHA256, PAGE_INDEX) DO NOTHING",'))
    assert case_only(diff('        "document COLLATE \\"C\\", file COLLATE \\"C\\"", ()',
                          '        "DOCUMENT COLLATE \\"C\\", FILE COLLATE \\"C\\"", ()'))
    # the literal's case changed with the keywords' ('text' is not 'TEXT'); a quoted name's too
    assert not case_only(diff('''        "AND data_type = 'text'", (table,))}''', '''        "AND DATA_TYPE = 'TEXT'", (table,))}'''))
    assert not case_only(diff('        "name COLLATE \\"C\\"", ()', '        "name COLLATE \\"c\\"", ()'))
    # a message with an apostrophe stays a message
    assert not case_only(diff('''        "--store names the records store's database and that its user has the README's "''',
                              '''        "--store names the records store's database and that its user has the readme's "'''))
