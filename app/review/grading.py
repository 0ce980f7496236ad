"""Drawing helpers of the grading screen: the claimed item as plain text, the rubric's
controls with their keys, the action buttons, and the keyboard script.

Keyboard. One small script, ``keyboard.js`` beside this module (package data, no user data in
it), handles every key (Ctrl+Enter submit, S skip, L later, Z undo, X context, and the
criteria's keys).
It is installed once per browser tab through ``st.html(..., unsafe_allow_javascript=True)``
and listens for keydown on the document, in the capture phase, so it sees a key before
Streamlit's own shortcuts (R reruns, C clears the cache) and keeps the keys it uses: unless
focus is in a text box, a criterion's letter focuses that criterion (Q W E R T Y U I O P in
the order shown, no gaps, on a badge before its name), J and K move to the next and the
previous one, and a digit clicks the option showing that digit (0 is N/A) and moves on; on a
multi-select criterion Shift+digit adds a label and stays. F toggles the flag, X opens and
closes the context (earlier turns, retrieved documents, tool results), Z undoes. The script
only clicks Streamlit's own controls, so every value goes through the widgets and the server
sees exactly what the mouse would have sent.
"""

from __future__ import annotations

import functools
import json
from importlib import resources
from typing import Any

import streamlit as st

from goldenloop import review
from goldenloop.rubric import Criterion, Rubric
from goldenloop_app.review import output_text
from goldenloop_app.untrusted import md, visible

# The keyboard row in order; the script takes R from Streamlit (see above). S, L, Z, F, J, K
# and X are the actions'.
CRITERION_KEYS = "QWERTYUIOP"
NA = "N/A"
MAX_CHARS_SHOWN = 20_000
KEYBOARD_FILE = "keyboard.js"


def key_of(claim_id: int, name: str) -> str:
    return f"gl_{claim_id}_{name}"


def _options(c: Criterion) -> list[Any]:
    if c.scale is not None and c.type == "ordinal":
        lo, hi = int(c.scale[0]), int(c.scale[1])
        return [*range(lo, hi + 1), NA]
    if c.type == "boolean":
        return ["yes", "no", NA]
    return [*c.label_names, NA]


def _shown(options: list[Any]) -> dict[Any, str]:
    """Each option with the digit that picks it (shown on the control itself)."""
    out = {}
    for i, o in enumerate(options):
        if o == NA:
            out[o] = "0 · N/A"
        elif i < 9:
            out[o] = str(o) if isinstance(o, int) and o == i + 1 else f"{i + 1} · {o}"
        else:
            out[o] = str(o)
    return out


def _anchors(c: Criterion) -> str:
    if c.levels:
        return " · ".join(f"{k} {v.split(':')[0]}" for k, v in sorted(c.levels.items()))
    return " · ".join(f"{lab.name}: {lab.description}" for lab in c.labels if lab.description)


def controls(rubric: Rubric, claim_id: int, asked: tuple[str, ...] | None = None) -> None:
    """One keyed container per criterion asked (the script finds them by class), keyed by
    letter in the order shown, then the flag and the corrected answer."""
    shown = [c for c in rubric.criteria if asked is None or c.name in asked]
    required = sum(c.required for c in shown)
    st.caption(f"{required} required" + (f", {len(shown) - required} optional"
                                         if len(shown) > required else "")
               + ("" if len(shown) == len(rubric.criteria)
                  else f" · {len(shown)} of the rubric's {len(rubric.criteria)} criteria asked"))
    for i, c in enumerate(shown):
        letter = CRITERION_KEYS[i] if i < len(CRITERION_KEYS) else ""
        kind = "text" if c.type in ("text", "interval") else (
            "multi" if c.multi_select else "single")
        with st.container(key=f"glcrit-{letter.lower() or '0'}-{kind}-{i}-{claim_id}", border=True):
            # Names and instructions are written by a lead, and may come from imported data.
            badge = f":blue-badge[**{letter}**] " if letter else ""
            st.markdown(f"{badge}**{md(c.name)}**" + ("" if c.required else " (optional)"))
            if c.instructions:
                st.caption(md(c.instructions, 2000))
            _control(c, claim_id)
    with st.container(key="glflag"):
        st.checkbox("`F` Flag for a lead (unsafe or broken item)", key=key_of(claim_id, "_flag"))
    if rubric.corrected_answer.enabled:
        with st.expander("Corrected answer (optional)"):
            st.text_area("The answer the assistant should have given",
                         key=key_of(claim_id, "_correction"),
                         help=rubric.corrected_answer.instructions or None)


def _control(c: Criterion, claim_id: int) -> None:
    key = key_of(claim_id, c.name)
    if c.type == "text":
        st.text_area(c.name, key=key, label_visibility="collapsed", height=68)
        return
    if c.type == "interval":
        lo, hi = c.scale
        st.number_input(c.name, float(lo), float(hi), None, key=key, label_visibility="collapsed")
        return
    options = _options(c)
    shown = _shown(options)
    st.segmented_control(md(c.name), options, format_func=lambda o: md(shown[o]), key=key,
                         selection_mode="multi" if c.multi_select else "single",
                         label_visibility="collapsed")
    anchors = _anchors(c)
    if anchors:
        st.caption(md(anchors, 2000))


def answers(rubric: Rubric, claim_id: int, asked: tuple[str, ...] | None = None
            ) -> tuple[dict[str, review.Answer], str | None]:
    """The widgets' values (of the criteria asked) as library answers, and the corrected
    answer."""
    ss = st.session_state
    flagged = bool(ss.get(key_of(claim_id, "_flag")))
    out: dict[str, review.Answer] = {}
    for c in rubric.criteria:
        if asked is not None and c.name not in asked:
            continue
        v = ss.get(key_of(claim_id, c.name))
        if c.type == "text":
            if v and v.strip():
                out[c.name] = review.Answer(v.strip())
            continue
        na = v == NA or (isinstance(v, list) and NA in v)
        if c.type == "boolean" and v in ("yes", "no"):
            v = v == "yes"
        if na:
            out[c.name] = review.Answer(not_applicable=True, flagged=flagged)
        elif v is not None and v != []:
            out[c.name] = review.Answer(v, flagged=flagged)
        elif flagged:
            out[c.name] = review.Answer(flagged=True)
    correction = (ss.get(key_of(claim_id, "_correction")) or "").strip() or None
    return out, correction


def _widget_value(c: Criterion, a: review.Answer) -> Any:
    """What ``c``'s control shows for answer ``a`` (the inverse of ``answers``)."""
    if a.not_applicable:
        return [NA] if c.multi_select else NA
    if c.type == "boolean" and isinstance(a.value, bool):
        return "yes" if a.value else "no"
    if c.multi_select and isinstance(a.value, str):
        return [a.value]
    return a.value


def seed(claim_id: int, rubric: Rubric, given: dict[str, review.Answer],
         correction: str | None) -> None:
    """Put an undone submission's answers back into the item's controls (before they are
    drawn: the claim is new, so are its widget keys)."""
    ss = st.session_state
    for c in rubric.criteria:
        if c.name in given and (given[c.name].value is not None or given[c.name].not_applicable):
            ss[key_of(claim_id, c.name)] = _widget_value(c, given[c.name])
    ss[key_of(claim_id, "_flag")] = any(a.flagged for a in given.values())
    if correction:
        ss[key_of(claim_id, "_correction")] = correction


def forget(claim_id: int) -> None:
    """Drop a finished item's widget values from the session."""
    prefix = f"gl_{claim_id}_"
    for k in [k for k in st.session_state if isinstance(k, str) and k.startswith(prefix)]:
        del st.session_state[k]


# -- the item ----------------------------------------------------------------------------------
def _text(value: str | None) -> None:
    """Untrusted text: its code blocks as code, the rest as plain text; never Markdown or
    HTML (``output_text``)."""
    if value is None or value == "":
        st.text("(empty)")
        return
    cut = value if len(value) <= MAX_CHARS_SHOWN else value[:MAX_CHARS_SHOWN] + " …(cut)"
    output_text.draw(cut)


def _blob(x: Any) -> str:
    return x if isinstance(x, str) else json.dumps(x, indent=2, ensure_ascii=False, default=str)


def draw_payload(p: review.Payload) -> None:
    if isinstance(p, review.SpanPayload):
        _span(p)
    elif isinstance(p, review.SessionPayload):
        _session(p)
    elif isinstance(p, review.ComparisonPayload):
        _comparison(p)
    else:
        st.text(visible(f"item {p.item_id} · dataset {p.dataset or '—'}"))
        with st.chat_message("user"):
            _text(p.input)
        with st.chat_message("assistant"):
            _text(p.output)


def _span(p: review.SpanPayload) -> None:
    when = "" if p.start_time is None else f"{p.start_time:%Y-%m-%d %H:%M} UTC"
    st.text(visible(f"{p.app or '(no app)'} · {p.model_version or '(no version)'} · {when} · "
                    f"{p.status or ''}"))
    if p.error_message:
        st.text(visible(f"error: {p.error_message}"))
    if p.system:
        with st.expander("System prompt"):
            for s in p.system:
                _text(s)
    # The context the answer rests on, in one keyed container: key X opens and closes it.
    with st.container(key="glctx"):
        if p.earlier:
            with st.expander(f"Earlier conversation ({len(p.earlier)} messages) · X"):
                for m in p.earlier:
                    with st.chat_message("user" if m.role == "user" else "assistant"):
                        _text(m.content)
        for label, items in (("Retrieved context", p.retrieved_context),
                             ("Tool results", p.tool_results)):
            if items:
                with st.expander(f"{label} ({len(items)}) · X"):
                    for x in items:
                        st.code(visible(_blob(x)), language=None, wrap_lines=True)
    with st.chat_message("user"):
        _text(p.user_message)
    with st.chat_message("assistant"):
        _text(p.output)


def _session(p: review.SessionPayload) -> None:
    turns = f"{len(p.turns)} turn" + ("" if len(p.turns) == 1 else "s")
    st.text(visible(f"Session {p.session_id} · {p.app or '(no app)'} · {turns}: "
                    "grade the whole conversation"))
    for t in p.turns:
        st.caption(f"Turn {t.turn_index if t.turn_index is not None else '—'}")
        with st.chat_message("user"):
            _text(t.user)
        with st.chat_message("assistant"):
            _text(t.assistant)


def _comparison(p: review.ComparisonPayload) -> None:
    st.text("Input")
    with st.chat_message("user"):
        _text(p.input)
    a, b = st.columns(2, gap="medium")
    with a, st.container(border=True, key="glanswer-a"):
        st.markdown("**Answer A**")
        _text(p.first)
    with b, st.container(border=True, key="glanswer-b"):
        st.markdown("**Answer B**")
        _text(p.second)


def _grade_value(r: dict[str, Any]) -> str:
    if r["not_applicable"]:
        return "N/A"
    text = next((str(r[k]) for k in ("value_label", "value_labels", "value_text")
                 if r[k] not in (None, "")), None)
    if text is None:
        text = "" if r["value_number"] is None else f"{r['value_number']:g}"
    return " ".join(text.split())[:120] + (" · flagged" if r["flagged"] else "")


def others_text(rows: list[dict[str, Any]]) -> str:
    """Grades as an aligned plain-text table (source, by, criterion, value), then each
    grade's reason (a judge's explanation, a reviewer's comment) under the table."""
    table = [("source", "by", "criterion", "value")] + [
        (visible(r["source"]), visible(r["author_id"] or ""), visible(r["criterion"]),
         visible(_grade_value(r)))
        for r in rows]
    widths = [max(len(row[i]) for row in table) for i in range(3)]
    text = "\n".join("  ".join([*(c.ljust(w) for c, w in zip(row[:3], widths, strict=True)),
                                 row[3]]) for row in table)
    reasons = [f"{visible(r['author_id'] or r['source'])} on {visible(r['criterion'])}: "
               f"{visible(' '.join(str(r['reason']).split()))[:1000]}"
               for r in rows if r.get("reason")]
    return text + ("\n\nReasons:\n" + "\n".join(reasons) if reasons else "")


def draw_others(rows: list[dict[str, Any]], title: str, expanded: bool = True) -> None:
    """Judge scores and other reviewers' grades as plain text (light to draw on every
    submission, and never Markdown: a note is a reviewer's text)."""
    with st.expander(title, expanded=expanded):
        others_body(rows)


def others_body(rows: list[dict[str, Any]]) -> None:
    if not rows:
        st.caption("No judge scores or other reviewers' grades for it.")
        return
    st.text(others_text(rows))


@functools.cache
def keyboard_script() -> str:
    """``keyboard.js`` (package data beside this module) as a script element, read once."""
    js = resources.files(__package__).joinpath(KEYBOARD_FILE).read_text(encoding="utf-8")
    return f"<script>\n{js}</script>\n"


def keyboard() -> None:
    st.html(keyboard_script(), unsafe_allow_javascript=True)
