"""Messy and wide tables shared by the import tests (CLI, app, browser), and the trusted
figures' known rows."""

from __future__ import annotations

from pathlib import Path

from goldenloop.ingest import ImportOptions, import_file
from goldenloop.schema import open_store

MESSY_CSV = """\
timestamp,model,prompt_tokens,completion_tokens,latency,response,prompt,status,trace_id,span_id,end
2025-03-01T10:00:00Z,gpt-4o-mini,100,20,350,Hello there,Hi,ok,t1,s1,
2025-03-01T10:01:00Z,gpt-4o-mini,-5,20,350,Hello,Hi,ok,t2,s2,
2025-03-01T10:02:00Z,gpt-4o-mini,abc,20,350,Hello,Hi,ok,t3,s3,
not a time,gpt-4o-mini,10,20,350,Hello,Hi,ok,t4,s4,
2025-03-01T10:03:00Z,gpt-4o-mini,10,20

2025-03-01T10:04:00Z,mystery-model,10,20,100,,Hi,,t5,s5,
2025-03-01T10:05:00Z,gpt-4o,10,20,100,x,Hi,weird,t6,s6,
2025-03-01T10:06:00Z,gpt-4o,10,20,,x,Hi,ok,t7,s7,2025-03-01T10:05:00Z
"2025-03-01T10:07:00+02:00",gpt-4o,10,20,,"multi
line, with comma",Hi,error,t8,s8,2025-03-01T08:07:01Z
2025-03-01T10:00:00Z,gpt-4o-mini,100,20,350,Hello there,Hi,ok,t1,s1,
"""


WIDE_CSV = """\
story,gen,question,answer,gold,ana,ben,gpt_v1,gpt_v2
s1,A,q1,a1,r1,4,5,4,4.5
s2,A,q2,a2,r2,2,2,0.5,2
s3,B,q3,a3,r3,3,abc,3,3
,B,q4,a4,r4,1,1,1,1
s5,B,q5,a5,r5,5,,6,5
"""


WIDE_MAPPING = {"grades": {
    "layout": "wide",
    "target": {"type": "item", "column": "story", "prefix": "demo:"},
    "item": {"dataset": "stories", "input": "question", "output": "answer",
             "reference": "gold", "metadata": ["gen"]},
    "rubric": {"name": "stories", "version": "1"},
    "criterion": "quality",
    "scale": {"type": "interval", "min": 1, "max": 5},
    "raters": [
        {"columns": ["ana", "ben"], "kind": "reviewer"},
        {"pattern": "(?P<model>gpt)_(?P<v>v\\d)", "kind": "judge", "name": "{model}-judge",
         "version": "{v}"},
    ],
}}


def _import(db: Path, tmp_path: Path, text: str, raters: list[dict], *, name: str = "g.csv",
            scale: dict | None = None, criterion: str = "quality") -> object:
    p = tmp_path / name
    p.write_text(text)
    mapping = {"grades": {
        "layout": "wide", "target": {"type": "item", "column": "id", "prefix": "t:"},
        "item": {"dataset": "d", "input": "q", "output": "a"},
        "rubric": {"name": "r", "version": "1"}, "criterion": criterion,
        "scale": scale or {"type": "interval", "min": 1, "max": 5}, "raters": raters}}
    with open_store(db) as s:
        return import_file(s, p, ImportOptions(mapping=mapping))


def _rows(n: int, cols: int, seed: int = 1) -> str:
    import numpy as np

    rng = np.random.default_rng(seed)
    head = "id,q,a," + ",".join(f"c{i}" for i in range(cols))
    lines = [head]
    for i in range(n):
        base = int(rng.integers(1, 6))
        vals = [min(5, max(1, base + int(rng.integers(-1, 2)))) for _ in range(cols)]
        lines.append(f"i{i},q{i},a{i}," + ",".join(map(str, vals)))
    return "\n".join(lines) + "\n"
