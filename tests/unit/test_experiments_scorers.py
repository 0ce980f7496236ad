"""Reference scorers checked against independent computations, and SQL execution accuracy on
small DuckDB and SQLite databases: equivalent queries right, wrong ones wrong, an error and
a time-out wrong with the error kept, and the sandbox refusing files, ATTACH and extensions."""

from __future__ import annotations

import sqlite3
from collections import Counter

import duckdb
import pytest

from goldenloop.errors import ExperimentError
from goldenloop.experiments import scoring
from goldenloop.experiments.sql_accuracy import SqlScorer, orders


def _lcs(a: list[str], b: list[str]) -> int:
    table = [[0] * (len(b) + 1) for _ in range(len(a) + 1)]
    for i, x in enumerate(a):
        for j, y in enumerate(b):
            table[i + 1][j + 1] = table[i][j] + 1 if x == y else max(table[i][j + 1], table[i + 1][j])
    return table[-1][-1]


def _score(name, output, expected):
    return scoring.get(name).score(output, expected, {})


def test_match_scorers():
    assert _score("exact", " Paris ", "Paris").passed
    assert not _score("exact", "paris", "Paris").passed
    assert _score("normalized", "The  Paris!", "paris").passed
    assert _score("normalised", "Café", "CAFÉ").passed
    assert _score("contains", "I think it is Paris, France.", "paris france").passed
    assert not _score("contains", "Lyon", "Paris").passed
    assert _score("json_equal", '```json\n{"b": [1, 2], "a": "x"}\n```', '{"a": "x", "b": [1, 2]}').passed
    assert not _score("json_equal", '{"a": "y"}', '{"a": "x"}').passed
    bad = _score("json_equal", "not json", '{"a": 1}')
    assert bad.value == 0 and "not JSON" in bad.detail
    keys = _score("json_keys", '{"a": 1}', '{"a": 0, "b": 0}')
    assert not keys.passed and keys.detail == "missing keys: b"
    assert _score("json_keys", '{"a": 1, "b": 2, "c": 3}', '{"a": 0, "b": 0}').passed
    assert _score("exact", None, "x").value == 0           # a failed call is wrong
    assert _score("exact", "x", None).value is None        # nothing to compare with
    with pytest.raises(ExperimentError, match="unknown scorer 'bleu'"):
        scoring.get("bleu")


@pytest.mark.parametrize(("output", "expected"), [
    ("the cat sat on the mat", "a cat sat on a mat"),
    ("Paris is the capital of France", "The capital of France is Paris"),
    ("completely different words", "nothing shared here"),
    ("ships tomorrow by courier", "your order ships tomorrow"),
])
def test_token_f1_and_rouge_l_match_independent_computations(output, expected):
    got, want = scoring.normalize(output).split(), scoring.normalize(expected).split()
    common = sum((Counter(got) & Counter(want)).values())
    f1 = 0.0 if common == 0 else 2 * common / (len(got) + len(want))
    assert _score("token_f1", output, expected).value == pytest.approx(f1)
    # ROUGE-L F from the longest common subsequence of lower-cased tokens (no stemming needed
    # for these words).
    a, b = output.lower().split(), expected.lower().split()
    lcs = _lcs(a, b)
    rouge = 0.0 if lcs == 0 else 2 * lcs / (len(a) + len(b))
    assert _score("rouge_l", output, expected).value == pytest.approx(rouge)
    assert scoring.get("rouge_l").version.startswith("1+rouge-score")


def test_orders_sees_only_a_top_level_order_by():
    assert orders("SELECT a FROM t ORDER BY a")
    assert not orders("SELECT * FROM (SELECT a FROM t ORDER BY a) s")
    assert not orders("SELECT a, row_number() OVER (ORDER BY a) FROM t")
    assert not orders("SELECT 'order by' AS x FROM t -- order by a")


@pytest.fixture
def duck(tmp_path):
    path = tmp_path / "shop.duckdb"
    con = duckdb.connect(str(path))
    con.execute("""CREATE TABLE orders AS SELECT range AS id, range % 5 AS customer,
                   (range % 7) * 1.5 AS amount FROM range(1000)""")
    con.close()
    s = SqlScorer(str(path), timeout_s=1.0, row_limit=500)
    yield s, tmp_path
    s.close()


EXPECTED = "SELECT customer, sum(amount) FROM orders GROUP BY customer"


@pytest.mark.slow
def test_sql_accuracy_equivalent_wrong_error_and_timeout(duck):
    s, _ = duck
    right = ["SELECT customer, sum(amount) AS total FROM orders GROUP BY 1 ORDER BY 2 DESC",
             "select o.customer, sum(o.amount) from orders o group by o.customer",
             "WITH t AS (SELECT * FROM orders) SELECT customer, SUM(amount) FROM t GROUP BY ALL",
             "```sql\nSELECT customer, sum(amount) FROM orders GROUP BY customer\n```"]
    for q in right:
        assert s.compare(q, EXPECTED) == (True, None), q
    wrong = ["SELECT customer, avg(amount) FROM orders GROUP BY customer",
             "SELECT customer, sum(amount) FROM orders WHERE id > 5 GROUP BY customer"]
    for q in wrong:
        ok, why = s.compare(q, EXPECTED)
        assert ok is False and why.startswith("different result"), q
    ok, why = s.compare("SELECT nope FROM orders", EXPECTED)
    assert ok is False and "nope" in why
    ok, why = s.compare("""SELECT count(*) FROM range(100000000) a, range(100000000) b
                           WHERE a.range * b.range = -1""", EXPECTED)
    assert ok is False and why == "timed out after 1 s"
    ok, why = s.compare("SELECT * FROM orders", EXPECTED)
    assert ok is False and why == "more than 500 rows"
    # Order matters only when the expected query orders.
    ordered = "SELECT customer FROM orders GROUP BY customer ORDER BY customer"
    assert s.compare("SELECT customer FROM orders GROUP BY customer ORDER BY customer DESC",
                     ordered)[0] is False
    assert s.compare("SELECT DISTINCT customer FROM orders ORDER BY 1", ordered)[0] is True
    # Multisets, not sets: a duplicated row is a different result.
    assert s.compare("SELECT 1 UNION ALL SELECT 1", "SELECT 1")[0] is False
    assert s.compare("SELECT 1", "SELECT nothing")[0] is None  # the expected query is broken
    # The expected query's own text is right without a second run (even a volatile one).
    assert s.compare("SELECT random()  ;", "SELECT random()") == (True, None)
    assert s.compare("SELECT random()", "SELECT random() + 0")[0] is False


@pytest.mark.parametrize("query", [
    "SELECT * FROM read_csv('/etc/passwd')",
    "SELECT * FROM glob('/etc/*')",
    "ATTACH '/tmp/other.duckdb' AS other",
    "INSTALL httpfs",
    "LOAD httpfs",
    "COPY orders TO '/tmp/out.csv'",
    "SET enable_external_access = true",
    "CREATE TABLE x AS SELECT 1",
    "SELECT 1; DROP TABLE orders",
])
def test_sql_sandbox_refuses(duck, query):
    s, tmp = duck
    ok, why = s.compare(query, EXPECTED)
    assert ok is False and why
    assert s.compare(EXPECTED, EXPECTED) == (True, None)  # still usable afterwards
    assert not (tmp / "out.csv").exists()


@pytest.mark.slow
def test_sql_accuracy_on_sqlite(tmp_path):
    path = tmp_path / "shop.sqlite"
    con = sqlite3.connect(path)
    con.execute("CREATE TABLE t (a INTEGER, b TEXT)")
    con.executemany("INSERT INTO t VALUES (?, ?)", [(i, "x" if i % 2 else "y") for i in range(100)])
    con.commit()
    con.close()
    s = SqlScorer(str(path), timeout_s=0.5)
    try:
        assert s.kind == "sqlite"
        assert s.compare("SELECT b, COUNT(*) FROM t GROUP BY b",
                         "select b, count(a) from t group by 1") == (True, None)
        assert s.compare("SELECT b FROM t", "SELECT a FROM t")[0] is False
        for refused in (f"ATTACH '{tmp_path / 'x.db'}' AS x", "PRAGMA table_info(t)",
                        "DELETE FROM t", "SELECT load_extension('x')", "SELECT 1; SELECT 2"):
            ok, why = s.compare(refused, "SELECT 1")
            assert ok is False and why, refused
        slow = """WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c)
                  SELECT count(*) FROM c"""
        assert s.compare(slow, "SELECT 1") == (False, "timed out after 0.5 s")
        assert not (tmp_path / "x.db").exists()
    finally:
        s.close()
    assert sqlite3.connect(path).execute("SELECT count(*) FROM t").fetchone()[0] == 100
