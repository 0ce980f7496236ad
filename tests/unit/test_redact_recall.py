"""Recall and false positives of the redaction detectors on a labelled set built here: e-mail
addresses, phone numbers of 40 countries in international and national formats, keys of the
major providers, IP addresses, card numbers with a valid Luhn digit, and ordinary strings that
must stay as they are (dates, versions, prices, ids, hashes, times).

The figures are printed (``pytest -s``) and stated in docs/operator.md ("Redaction", checked
by test_readme_figures); the asserted floors are those figures less a margin, so a regression
fails here.
"""

from __future__ import annotations

import pytest
from redact_support import NEGATIVES, TEMPLATES, cards, emails, ips, keys, phones, recall

from goldenloop.ingest.redact import redact_text

FLOORS = {"e-mail": 0.95, "phone, international": 0.97, "phone, national (listed regions)": 0.9,
          "phone, national (other regions)": 0.8, "phone, hand-written": 0.9,
          "API key / secret": 0.95, "IP address": 0.95, "card number": 1.0}


def test_recall_per_kind_and_false_positives() -> None:
    sets = {"e-mail": emails(), **phones(), "API key / secret": keys(), "IP address": ips(),
            "card number": cards()}
    lines = []
    for kind, items in sets.items():
        r, missed = recall(items)
        lines.append(f"{kind:36s} {len(items):4d}  recall {r:6.1%}  missed: {missed[:4]}")
        if kind in FLOORS:
            assert r >= FLOORS[kind], (kind, missed)
    changed = [s for s in NEGATIVES if redact_text(s) != s]
    fp = len(changed) / len(NEGATIVES)
    lines.append(f"{'ordinary strings changed':36s} {len(NEGATIVES):4d}  rate {fp:6.1%}  "
                 f"changed: {changed}")
    print("\n" + "\n".join(lines))
    assert fp <= 0.05, changed


@pytest.mark.parametrize("text", ["", "plain words only", "😀 ünïcödé ‮ reversed"])
def test_texts_without_anything_to_mask_come_back_unchanged(text: str) -> None:
    assert redact_text(text) == text


def test_the_batch_gates_hand_python_every_text_it_could_change() -> None:
    # At import, a batch's texts are first matched in Arrow (RE2) against the detectors'
    # gates, and only matches reach the Python detectors: the gates must let through all
    # they mask, in texts and in JSON documents alike.
    import json

    import pyarrow as pa

    from goldenloop.ingest.redact import redact_json
    from goldenloop.ingest.redact_import import _arrow_udf

    items = emails() + [x for v in phones().values() for x in v] + ips() + cards() + NEGATIVES
    items += [k if isinstance(k, str) else k[0] + k[1] for k in keys()]
    texts = [t.format(item) for item in items for t in TEMPLATES]
    gated = _arrow_udf(redact_text, gate="text")(pa.array(texts)).to_pylist()
    assert gated == [redact_text(t) for t in texts]
    assert sum(g != t for g, t in zip(gated, texts, strict=True)) > len(texts) // 2
    docs = [json.dumps([{"role": "user", "content": t}, {"n": 1}], separators=(",", ":"))
            for t in texts]
    gated = _arrow_udf(redact_json, gate="json")(pa.array(docs)).to_pylist()
    assert gated == [redact_json(d) for d in docs]
    assert sum(g != d for g, d in zip(gated, docs, strict=True)) > len(docs) // 2


def test_a_value_named_like_a_secret_is_masked_whatever_its_shape() -> None:
    import json

    from goldenloop.ingest.redact import redact_json

    doc = {"password": "hunter2", "db_pass": "x", "api_key": "short", "note": "hunter2",
           "n": {"client_secret": "abc"}}
    assert json.loads(redact_json(json.dumps(doc))) == {
        "password": "[API_KEY]", "db_pass": "[API_KEY]", "api_key": "[API_KEY]",
        "note": "hunter2", "n": {"client_secret": "[API_KEY]"}}
