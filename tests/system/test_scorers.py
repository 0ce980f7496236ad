"""The offline scorers on their own: refusal patterns on realistic answers and near misses,
sentiment signs, offensive language, lengths, scoring each distinct text once, and no
network at run time."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import pyarrow as pa
import pytest

from goldenloop.scorers import _texts, compute, length, offensive, refusal, sentiment, versions
from goldenloop.store.signals import OFFLINE_COLUMNS

REFUSALS = [
    "I'm sorry, but I can't help with that.",
    "I'm unable to assist with this request.",
    "Sorry, I can't help with that. Please contact support.",
    "I can't help with that: I only write read-only SELECT queries.",
    "I'm sorry, but I can't write queries that change or delete data.",
    "I'm not able to do that, but maybe try searching online.",
    "I cannot fulfill this request.",
    "As an AI language model, I cannot provide medical advice.",
    "I\u2019m sorry, but I can\u2019t assist with that.",  # typographic apostrophes
    "I must decline this request.",
    "That's not something I can help with.",
    "Unfortunately, I'm not able to provide that information.",
    "I won't help with that.",
    "We can't help with that here, please ask your bank.",
    "I apologize, but I cannot assist with that request.",
    "I can't help.",
    "Dear Customer, thank you for contacting Brightcart Customer Services. I'm sorry, but I "
    "can't help with that.",
    "I'M SORRY, BUT I CAN'T HELP WITH THAT.",
]
NEAR_MISSES = [
    "I can help with that.",
    "I can help with that! Your order ships tomorrow.",
    "Yes, we can help with that: returns are free within 30 days.",
    "I can't wait to help you find the perfect running shoes!",
    "I'm sorry for the delay. Your refund was issued today.",
    "I'm sorry to hear that. Let me check order 48213 for you.",
    "I'm afraid order 48213 was cancelled because the payment failed.",
    "Unfortunately the backpack can't be returned after 7 days, so no refund is possible.",
    "I can't share the full number, but the card on that account ends in 4242.",
    "It's on the website. I can't make it any clearer.",
    "Codes can't be applied after checkout.",
    "If you can't find it, I can help with that: check Account > Orders.",
    "I can't help noticing you asked twice, so here is the tracking link again.",
    "Sorry, I can't find an order with that number. Could you double-check it?",
    "I can not only track it but also change the delivery address.",
    "SELECT count(*) FROM orders WHERE status = 'cancelled';",
    "",
]


@pytest.mark.parametrize("text", REFUSALS)
def test_refusals_are_flagged(text):
    assert refusal.score([text]).to_pylist() == [True]


@pytest.mark.parametrize("text", NEAR_MISSES)
def test_near_misses_are_not_refusals(text):
    assert refusal.score([text]).to_pylist() == [False]


def test_only_the_opening_is_searched_and_null_stays_null():
    helpful = "Order 48213 shipped with DHL on Monday and should arrive on Thursday. " * 5
    late = helpful + "I'm sorry, but I can't help with your other question."
    assert len(helpful) > refusal.HEAD_CHARS
    assert refusal.score([late, None]).to_pylist() == [False, None]


def test_sentiment_signs_on_clear_examples():
    pos, neg, neutral, negated, blank, missing = sentiment.score([
        "Thank you so much, this is wonderful and really helpful!",
        "This is terrible. I hate this awful service.",
        "Your parcel was shipped on Monday.",
        "This is not good at all.",
        "   ",
        None,
    ]).to_pylist()
    assert pos > 0.5 and neg < -0.5 and abs(neutral) < 0.05 and negated < 0
    assert blank is None and missing is None  # nothing to judge: null, not a neutral 0


def test_offensive_language_scores_insults_high_and_polite_text_low():
    insult, swearing, polite, question, blank = offensive.score([
        "You're a useless piece of crap bot, idiot.",
        "This is bullshit, what the hell.",
        "Thank you, that answers my question.",
        "Where is my order 48213?",
        "",
    ]).to_pylist()
    assert insult > 0.8 and swearing > 0.8
    assert polite < 0.2 and question < 0.2
    assert blank is None


def test_offensive_is_not_a_safety_judgement():
    # A threat in polite words carries no rude words: this model does not see it. The docs
    # say so (docs/monitoring.md); the optional moderation endpoint is the stronger signal.
    [threat] = offensive.score(["I know where you live and I will find you tomorrow."]).to_pylist()
    assert threat < 0.5


def test_length_counts_code_points_and_words():
    chars, words = length.score(["Café au lait \N{HOT BEVERAGE}", "", None, "  two\nwords  "])
    assert chars.to_pylist() == [14, 0, None, 13]
    assert words.to_pylist() == [4, 0, None, 2]


def test_each_distinct_text_is_scored_once_and_results_spread_back():
    calls: list[list[str]] = []

    def fake(texts: list[str]):
        calls.append(texts)
        return [float(len(t)) for t in texts]

    texts = ["ab", "abc", None, "ab", " ", "abc", "ab"]
    out = _texts.per_distinct(texts, fake).to_pylist()
    assert out == [2.0, 3.0, None, 2.0, None, 3.0, 2.0]
    assert len(calls) == 1 and sorted(calls[0]) == ["ab", "abc"]


def test_dedupe_gives_the_same_scores_as_one_text_at_a_time():
    texts = ["I love it!", "Worst. Service. Ever.", "I love it!", None, "meh", "Worst. Service. Ever."]
    batched = sentiment.score(texts).to_pylist()
    single = [sentiment.score([t]).to_pylist()[0] for t in texts]
    assert batched == single
    assert offensive.score(texts).to_pylist() == [offensive.score([t]).to_pylist()[0]
                                                   for t in texts]


def test_compute_makes_the_offline_columns_and_versions_name_every_scorer():
    table = pa.table({"span_key": pa.array([1, 2], pa.int64()),
                      "last_user_message": ["Hi, where is my order?", None],
                      "output": ["I'm sorry, but I can't help with that.", None]})
    out = compute(table)
    assert out.column_names == ["span_key", *[c for c, _ in OFFLINE_COLUMNS]]
    assert out["refusal"].to_pylist() == [True, None]
    assert out["output_chars"].to_pylist() == [38, None]
    assert set(versions()) == {"offensive", "sentiment", "refusal", "length"}
    assert "alt-profanity-check" in versions()["offensive"]


def test_scorers_load_and_run_with_the_network_blocked():
    # Nothing may download anything at run time: any connection attempt fails this test.
    code = textwrap.dedent("""
        import socket
        def refuse(*args, **kwargs):
            raise RuntimeError("network use at run time")
        socket.socket.connect = refuse
        socket.create_connection = refuse
        socket.getaddrinfo = refuse
        from goldenloop.scorers import offensive, sentiment
        print(offensive.score(["you idiot"]).to_pylist(), sentiment.score(["great"]).to_pylist())
    """)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         timeout=120)
    assert out.returncode == 0, out.stderr
    assert "[0.9" in out.stdout


def test_every_signal_column_has_an_honest_label():
    from goldenloop.scorers.labels import SIGNALS
    from goldenloop.store.signals import MODERATION_COLUMNS

    columns = {c for c, _ in OFFLINE_COLUMNS} | {c for c, _ in MODERATION_COLUMNS}
    assert columns - {"moderation_categories"} == set(SIGNALS)
    assert all("Not a toxicity" in SIGNALS[c][1] for c in ("user_offensive", "output_offensive"))
    assert all("English" in SIGNALS[c][1] for c in ("user_sentiment", "output_sentiment"))
