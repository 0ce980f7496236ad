"""`goldenloop import --redact` on real files and a real store: every place an imported text
lands is masked (span texts, JSON fields, tags, the quarantine's raw rows and reasons), and
user and session ids become stable pseudonyms."""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path

import pytest

from goldenloop.ingest import ImportOptions, import_file
from goldenloop.ingest.redact_import import KEY_ENV, pseudonym, redaction_key
from goldenloop.schema import open_store
from goldenloop.store import Store

EMAIL, KEY, PHONE = "jane.doe@example.com", "AIzaSyA1b2C3d4E5f6G7h8I9j0KlMnOpQrStUvW", "+1 (415) 555-0100"
SECRETS = (EMAIL, KEY, PHONE, "415", "9f8e7d6c5b4a3928", "4111 1111 1111 1111", "203.0.113.7")
TEXT = (f"write to {EMAIL} or call {PHONE}; key {KEY}; api_key=9f8e7d6c5b4a3928; "
        "card 4111 1111 1111 1111 from 203.0.113.7")


def _row(i: int, **extra) -> dict:
    return {"trace_id": f"t{i}", "span_id": f"s{i}", "start_time": "2025-05-01T10:00:00Z",
            "model": "gpt-4o-mini", "output": TEXT, "user_id": f"user-{i % 2}",
            "session_id": f"session-{i % 2}", "messages": [{"role": "user", "content": TEXT}],
            "metadata": {"contact": EMAIL, "nested": [{"phone": PHONE}], "n": 3},
            "tags": ["vip", EMAIL], **extra}


def _jsonl(path: Path, rows: list) -> Path:
    path.write_text("".join((r if isinstance(r, str) else json.dumps(r)) + "\n" for r in rows))
    return path


def _assert_clean(value: object) -> None:
    text = value if isinstance(value, str) else json.dumps(value, default=str)
    for secret in SECRETS:
        assert secret not in text, (secret, text)


@pytest.fixture(autouse=True)
def _no_env_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(KEY_ENV, raising=False)


def test_every_stored_text_of_a_redacted_import_is_masked(store: Store, tmp_path: Path) -> None:
    bad_number = _row(9, input_tokens=f"call {PHONE} or {EMAIL}")  # quarantined: not a number
    broken = '{"output": "' + TEXT + '", '  # not JSON at all: quarantined as read
    path = _jsonl(tmp_path / "pii.jsonl", [_row(1), _row(2), bad_number, broken])
    r = import_file(store, path, ImportOptions(redact=True))
    assert (r.imported, r.quarantined) == (2, 2)
    spans = store.df("SELECT output, messages, last_user_message, metadata, tags, user_id, "
                     "session_id FROM spans ORDER BY trace_id")
    for col in spans.columns:
        for value in spans[col]:
            _assert_clean(value)
    out = spans["output"][0]
    for mask in ("[EMAIL]", "[PHONE]", "[API_KEY]", "[CARD]", "[IP]"):
        assert mask in out
    assert "api_key=[API_KEY]" in out  # the name stays, the value goes
    meta = json.loads(spans["metadata"][0])  # still JSON, with its shape and numbers
    assert meta == {"contact": "[EMAIL]", "nested": [{"phone": "[PHONE]"}], "n": 3}
    assert list(spans["tags"][0]) == ["vip", "[EMAIL]"]
    quarantine = store.df("SELECT field, reason, errors, raw FROM quarantine")
    assert len(quarantine) == 2
    for col in quarantine.columns:
        for value in quarantine[col]:
            _assert_clean(value)
    assert quarantine["raw"].str.contains(r"\[EMAIL\]").all()


def test_without_redact_nothing_is_masked(store: Store, tmp_path: Path) -> None:
    # The control: the same file stores the texts as they are (so the test above can fail).
    import_file(store, _jsonl(tmp_path / "plain.jsonl", [_row(1)]))
    output, user = store.rows("SELECT output, user_id FROM spans")[0]
    assert output == TEXT and user == "user-1"


def test_ids_become_stable_keyed_pseudonyms(store: Store, tmp_path: Path) -> None:
    import_file(store, _jsonl(tmp_path / "a.jsonl", [_row(1), _row(2)]),
                ImportOptions(redact=True))
    import_file(store, _jsonl(tmp_path / "b.jsonl", [_row(3), _row(4)]),
                ImportOptions(redact=True))
    users = dict(store.rows("SELECT trace_id, user_id FROM spans"))
    sessions = dict(store.rows("SELECT trace_id, session_id FROM spans"))
    # Same id in two imports, same pseudonym: conversations still group; others differ.
    assert users["t1"] == users["t3"] != users["t2"] == users["t4"]
    assert sessions["t1"] == sessions["t3"] != sessions["t2"]
    assert all(u.startswith("anon-") and len(u) == 21 for u in users.values())
    key_file = store.path.with_name(store.path.name + ".redact.key")
    assert stat.S_IMODE(os.stat(key_file).st_mode) == 0o600
    # Keyed: an HMAC under the store's key, not a bare hash anyone could recompute.
    key = redaction_key(store.path)
    assert users["t1"] == pseudonym("user-1", key) != pseudonym("user-1", b"another key")


def test_the_key_can_come_from_the_environment(tmp_path: Path,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(KEY_ENV, "team-secret")
    pseudonyms = []
    for name in ("one", "two"):  # two stores, one key: the same pseudonyms
        with open_store(tmp_path / f"{name}.duckdb") as store:
            import_file(store, _jsonl(tmp_path / f"{name}.jsonl", [_row(1)]),
                        ImportOptions(redact=True))
            pseudonyms.append(store.scalar("SELECT user_id FROM spans"))
            assert not store.path.with_name(store.path.name + ".redact.key").exists()
    assert pseudonyms[0] == pseudonyms[1] == pseudonym("user-1", b"team-secret")


def test_redacted_reimport_adds_nothing_and_conflicts_nothing(store: Store,
                                                              tmp_path: Path) -> None:
    path = _jsonl(tmp_path / "pii.jsonl", [_row(1), _row(2)])
    import_file(store, path, ImportOptions(redact=True))
    again = import_file(store, path, ImportOptions(redact=True))
    assert (again.imported, again.duplicates, again.conflicts) == (0, 2, 0)
