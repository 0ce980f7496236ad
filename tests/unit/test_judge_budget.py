"""The budget is never exceeded under concurrency, with random prices, random usage and random
failures (500s, 429s, timeouts, malformed answers), against the loopback server."""

from __future__ import annotations

import random
import threading

import pytest
from openai_loopback import Reply, openai_server, verdict
from review_support import synthetic_spans

from goldenloop import judge
from goldenloop.judge.budget import Budget, BudgetError, Price
from goldenloop.sampling import make_frame

MODEL = "budget-test-model"


def _prices(tmp_path, rng: random.Random) -> str:
    path = tmp_path / "prices.csv"
    path.write_text("model,valid_from,input_per_mtok,output_per_mtok,cached_input_per_mtok\n"
                    f"{MODEL},2020-01-01,{rng.uniform(0.1, 30):.4f},{rng.uniform(0.5, 90):.4f},"
                    f"{rng.uniform(0.01, 0.1):.4f}\n")
    return str(path)


def _script(rng: random.Random, lock: threading.Lock):
    def reply(body: dict) -> Reply:
        with lock:
            u = rng.random()
            prompt = sum(len((m.get("content") or "").encode()) for m in body["messages"])
            usage = {"prompt_tokens": rng.randint(1, prompt), "total_tokens": 0,
                     "completion_tokens": rng.randint(1, body["max_tokens"]),
                     "prompt_tokens_details": {"cached_tokens": rng.randint(0, 20)}}
            delay = rng.uniform(0, 0.05)
        if u < 0.08:
            return Reply(status=500)
        if u < 0.14:
            return Reply(status=429, retry_after="0")
        if u < 0.18:
            return Reply(delay_s=2.0)                   # past the client's timeout
        if u < 0.28:
            return Reply(content="{not json", usage=usage, delay_s=delay)
        out = verdict(reason="ok", score=rng.randint(1, 5))
        out.usage, out.delay_s = usage, delay
        return out
    return reply


@pytest.mark.parametrize("seed", [1, 2, 3])
@pytest.mark.slow
def test_budget_is_never_exceeded(store, tmp_path, monkeypatch, seed):
    rng = random.Random(seed)
    synthetic_spans(store, 400, seed=seed)
    prices = _prices(tmp_path, rng)
    j = judge.get(store, "correctness")
    j = j.model_copy(update={"judge": j.judge.model_copy(update={
        "model": MODEL, "endpoint": j.judge.endpoint.model_copy(update={"timeout_s": 0.5})})})
    price = judge.price_of(MODEL, extra=prices)
    most = max(price.most(judge.prompt.render(j, t.variables), j.judge.max_tokens)
               for t in judge.from_filter(store, make_frame()).targets[:20])
    budget = most * rng.uniform(80, 150)                 # runs out part-way through
    with openai_server(_script(rng, threading.Lock())) as srv:
        monkeypatch.setenv("OPENAI_BASE_URL", srv.base_url)
        r = judge.run(store, j, judge.from_filter(store, make_frame()), judge.RunOptions(
            concurrency=16, budget_usd=budget, prices=prices,
            retry=judge.Retry(max_attempts=3, base_s=0.01, cap_s=0.02)))
    billed = store.scalar("SELECT coalesce(sum(cost_usd), 0) FROM spans "
                          "WHERE app = 'goldenloop-judge'")
    assert r.status == "budget" and r.not_run > 0
    assert billed <= r.cost_usd <= budget            # timeouts count at their most
    assert r.judged + r.failed + r.not_run == r.targets
    assert r.failed > 0                                # failures happened and were kept
    assert store.scalar("SELECT count(*) FROM judge_failures") == r.failed


def test_budget_bookkeeping_under_threads() -> None:
    rng = random.Random(4)
    b = Budget(10.0)
    reservations = [rng.uniform(0.01, 0.5) for _ in range(4000)]
    lock = threading.Lock()
    worst = [0.0]

    def worker(chunk: list[float]) -> None:
        for amount in chunk:
            if b.reserve(amount):
                actual = amount * random.random()
                b.settle(amount, actual)
                with lock:
                    worst[0] = max(worst[0], b.spent + b.in_flight)

    threads = [threading.Thread(target=worker, args=(reservations[i::16],)) for i in range(16)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert b.exhausted and b.spent <= 10.0 and worst[0] <= 10.0 + 1e-9
    assert abs(b.in_flight) < 1e-9


def test_price_bounds_and_a_budget_without_a_price(store) -> None:
    p = Price("m", 2.0, 8.0, 1.0)
    assert p.cost(1000, 100, 400) == pytest.approx((600 * 2 + 400 * 1 + 100 * 8) / 1e6)
    msgs = [{"role": "user", "content": "é" * 10}]
    assert p.most(msgs, 50) == pytest.approx(((20 + 8) * 2 + 50 * 8) / 1e6)
    j = judge.get(store, "correctness")
    j = j.model_copy(update={"judge": j.judge.model_copy(update={"model": "no-such-model"})})
    synthetic_spans(store, 3)
    with pytest.raises(BudgetError, match="no price for model 'no-such-model'"):
        judge.run(store, j, judge.from_filter(store, make_frame()), judge.RunOptions(budget_usd=1))
