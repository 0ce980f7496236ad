"""Migrations 14 and 16: what the Argilla round trip remembers (pushed datasets, records,
pulls; golden sets pushed and the versions made from their responses).

- ``argilla_datasets``: one row per goldenloop source pushed to one Argilla dataset: which
  queue, the dataset's name, workspace and server id, the rubric version it was pushed with,
  the names of the environment variables holding the URL and key (never the key itself),
  and when it was last pushed and pulled.
- ``argilla_records``: the records pushed, keyed by their stable external id (``q<queue>-
  i<item>``), so a second push updates and never duplicates.
- ``argilla_pulls``: the pull ledger, one row per response version taken in (Argilla's
  response id and its ``updated_at``): what it became (graded, discarded, set aside with a
  reason) and the grade ids it wrote. A response version already in the ledger is never
  taken again, so pulling is idempotent; the ledger row is written in the same transaction
  as the grades, so a pull killed midway leaves nothing half-written.
"""

from __future__ import annotations

import duckdb


def m014_argilla(cur: duckdb.DuckDBPyConnection) -> None:
    """Tables of the Argilla part (see the module docstring)."""
    cur.execute("CREATE SEQUENCE IF NOT EXISTS argilla_dataset_seq START 1")
    cur.execute(
        """CREATE TABLE IF NOT EXISTS argilla_datasets (
            link_id BIGINT,
            source_kind VARCHAR,          -- queue
            queue_id BIGINT,
            dataset_name VARCHAR,
            workspace VARCHAR,
            argilla_dataset_id VARCHAR,
            rubric_name VARCHAR,
            rubric_version VARCHAR,
            url_env VARCHAR,              -- the NAME of the variable holding the API URL
            key_env VARCHAR,              -- the NAME of the variable holding the API key
            suggestions BOOLEAN,
            pushed_by VARCHAR,
            pushed_at TIMESTAMP,
            last_pull_at TIMESTAMP
        )""")
    cur.execute(
        """CREATE TABLE IF NOT EXISTS argilla_records (
            link_id BIGINT,
            external_id VARCHAR,
            queue_item_id BIGINT,
            pushed_at TIMESTAMP
        )""")
    cur.execute(
        """CREATE TABLE IF NOT EXISTS argilla_pulls (
            link_id BIGINT,
            external_id VARCHAR,
            queue_item_id BIGINT,
            username VARCHAR,
            response_id VARCHAR,
            response_updated_at TIMESTAMP,
            status VARCHAR,               -- submitted, discarded
            outcome VARCHAR,              -- graded, discarded, set_aside
            reason VARCHAR,               -- why a response was set aside
            raw_values JSON,              -- the response as Argilla sent it (set-aside ones)
            grade_ids BIGINT[],
            pulled_at TIMESTAMP
        )""")


def m016_argilla_golden(cur: duckdb.DuckDBPyConnection) -> None:
    """Golden sets pushed to Argilla: a link names the golden dataset and the version it was
    pushed from (``source_kind`` 'golden'); pushed records and pulls name the golden row
    (its ``row_key``) instead of a queue item; ``argilla_golden_versions`` records each
    golden version made from pulled responses: the version it was derived from, how many
    responses it took in and up to which pull."""
    cur.execute("ALTER TABLE argilla_datasets ADD COLUMN IF NOT EXISTS golden_dataset_id BIGINT")
    cur.execute("ALTER TABLE argilla_datasets ADD COLUMN IF NOT EXISTS golden_version_id BIGINT")
    cur.execute("ALTER TABLE argilla_records ADD COLUMN IF NOT EXISTS row_key VARCHAR")
    cur.execute("ALTER TABLE argilla_pulls ADD COLUMN IF NOT EXISTS row_key VARCHAR")
    cur.execute(
        """CREATE TABLE IF NOT EXISTS argilla_golden_versions (
            link_id BIGINT,
            base_version_id BIGINT,       -- the golden version the review started from
            version_id BIGINT,            -- the version made (an existing one when unchanged)
            created BOOLEAN,              -- false: the content equalled the latest version
            responses BIGINT,             -- response versions taken in since the last one
            pulled_through TIMESTAMP,     -- the latest pull these responses came from
            derived_by VARCHAR,
            derived_at TIMESTAMP
        )""")


def m019_argilla_erasures(cur: duckdb.DuckDBPyConnection) -> None:
    """Records pushed to Argilla about erased spans (``goldenloop forget``): listed in the
    erasure's transaction, deleted in Argilla afterwards; ``erased_at`` NULL while still to
    delete there (server unreachable), so ``forget --retry-argilla`` and later erasures retry."""
    cur.execute("""CREATE TABLE IF NOT EXISTS argilla_erasures (
    erasure_id VARCHAR,
    link_id BIGINT,
    argilla_dataset_id VARCHAR,
    dataset_name VARCHAR,
    url_env VARCHAR,              -- the NAMES of the variables, never the key
    key_env VARCHAR,
    external_id VARCHAR,          -- q<queue>-i<item> or g<dataset>-<hash>: no person's data
    erased_at TIMESTAMP,          -- NULL: still to delete in Argilla
    tried_at TIMESTAMP,
    last_error VARCHAR
)""")
