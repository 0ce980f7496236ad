"""Grade: claim the next item of a queue, read it, answer the rubric, submit, and go on.

Keyboard first (keys are shown on the controls; see ``grading.py`` and ``keyboard.js`` for how):
Q W E R T … focus a criterion, digits pick its level and move on (0 is N/A; Shift+digit adds
a label of a multi-select), J/K move, F flags, X opens or closes the context, Ctrl+Enter
submits, S skips, L comes back later, Z undoes the last submission (its picks come back).
No key fires while the cursor is in a text box (Escape leaves it).

An item asks the queue's criteria (a subset of its rubric, or all of it); an adjudication
item asks only the criteria its earlier grades dispute. Blind mode (on by default) hides
judge scores and other reviewers' grades until the reviewer has submitted; then they are
shown for the item just graded. It does not apply to adjudication queues, which show them.

Durability: the item is a form, so picks stay in the browser and nothing is redrawn under
the reviewer's clicks; Submit sends them all at once. ``review.submit_and_next`` returns
only after its transaction (the grades and the claim of the next item) committed; only then
does the grading fragment rerun (a fragment-level rerun, not the whole page) and draw the next
item. Every run of the page renews the claim's lock. A claim that
expired and went to someone else is said so; a grade submitted anyway is kept, as late.
Model output and user text are drawn as plain text only.
"""

from __future__ import annotations

import contextlib

import streamlit as st

from goldenloop import review
from goldenloop.access import roles
from goldenloop.errors import GoldenloopError
from goldenloop_app import state
from goldenloop_app.common import identity
from goldenloop_app.review import grading as rg
from goldenloop_app.review import queue_panels as rq
from goldenloop_app.untrusted import md, visible

st.title("Grade")
store = state.get_store()
who = identity.current(store)
if who is None:
    st.info("Type your name in the sidebar first: grades are kept under it.",
            icon=":material/person:")
    st.stop()
if not roles.can(store, who, roles.Action.GRADE):
    st.warning("That name has no reviewer role in roles.yaml: ask a lead to add it.",
               icon=":material/block:")
    st.stop()

queues = review.list_queues(store)
queues = queues[queues["status"] == "open"] if not queues.empty else queues
if queues.empty:
    st.info("No open review queues. A lead creates one on the Queues page.",
            icon=":material/inbox:")
    st.stop()

names = {int(q): str(n) for q, n in zip(queues["queue_id"], queues["name"], strict=True)}
purposes = {int(q): str(p) for q, p in zip(queues["queue_id"], queues["purpose"], strict=True)}
rq.seed_queue_choice(names)
top = st.columns([3, 1])
queue_id = top[0].selectbox("Queue", list(names), format_func=lambda q: visible(f"{q} · {names[q]}"),
                            key="queue", bind="query-params")
if queue_id is None:
    st.stop()
queue_id = int(queue_id)
if purposes.get(queue_id) == "adjudication":  # said plainly, not a switch that does nothing
    top[1].toggle("Blind mode: does not apply", value=False, disabled=True, key="gl_blind_adj",
                  help="An adjudication queue always shows the earlier grades and the judges' "
                       "reasons")
    blind = False
else:
    blind = top[1].toggle("Blind mode", value=True, key="gl_blind",
                          help="Hide judge scores and other reviewers' grades until you submit")
claim_key = f"gl_claim_{queue_id}_{who}"
RENEW_GAP_S = 30.0


def _flash(kind: str, text: str) -> None:
    st.session_state["gl_flash"] = (kind, text)


def on_submit(claim: review.Claim, rubric, asked: tuple[str, ...]) -> None:
    identity.act()
    answers, correction = rg.answers(rubric, claim.claim_id, asked)
    try:  # committed here, with the claim of the next item (one wait for the store's lock)
        done, nxt = review.submit_and_next(store, claim, answers, correction=correction)
    except GoldenloopError as exc:
        _flash("error", str(exc))
        return
    st.session_state[claim_key] = nxt
    st.session_state["gl_previous"] = claim
    rg.forget(claim.claim_id)
    secs = done.seconds_spent
    spent = "" if secs is None else f" in {secs:.1f} s" if secs < 10 else f" in {secs:.0f} s"
    _flash("warning" if done.late else "success",
           f"Saved {len(done.grade_ids)} grades{spent}" + (
               ": late — another reviewer had taken the item, your grade is kept as late"
               if done.late else "."))


def on_move(claim: review.Claim, how: str) -> None:
    identity.act()
    try:
        (review.skip if how == "skip" else review.later)(store, claim)
    except GoldenloopError as exc:
        _flash("error", str(exc))
        return
    st.session_state[claim_key] = None
    rg.forget(claim.claim_id)
    _flash("info", "Skipped: it goes to other reviewers." if how == "skip"
           else "Put off: it comes back after the rest.")


def on_undo() -> None:
    identity.act()
    old = st.session_state.get(claim_key)
    try:
        undone = review.undo(store, queue_id, who)
    except GoldenloopError as exc:
        _flash("error", str(exc))
        return
    if undone is None:
        _flash("info", "Nothing to undo (or another reviewer now holds that item).")
        return
    claim = undone.claim
    if old is not None and old.claim_id != claim.claim_id:
        rg.forget(old.claim_id)
    rg.seed(claim.claim_id, review.queue_rubric(store, queue_id), undone.answers,
            undone.correction)
    st.session_state[claim_key] = claim
    _flash("info", "Your last submission was withdrawn; its picks are back: change what you "
                   "need and submit again.")


def current_claim() -> tuple[review.Claim | None, bool]:
    """(the claim, whether it was lost). Renews the lock: every rerun (showing the page,
    submitting, skipping) is an interaction; picks inside the item's form are not sent."""
    claim = st.session_state.get(claim_key)
    if claim is None:
        claim = review.next_item(store, queue_id, who)
        st.session_state[claim_key] = claim
        return claim, False
    try:  # a claim renewed in the last half minute is surely held: no write for each click
        st.session_state[claim_key] = claim = review.renew(store, claim,
                                                           unless_renewed_within=RENEW_GAP_S)
    except review.ClaimLost:
        return claim, True
    return claim, False


def actions(claim: review.Claim, rubric, asked: tuple[str, ...]) -> None:
    # Every action is a button of the item's form, so it sends the picks with it. The keys are
    # the page's keyboard script's (review/keyboard.js), not Streamlit's shortcut=;
    # the label shows the key.
    cols = st.columns(4)
    cols[0].form_submit_button("Submit · Ctrl+Enter", type="primary", on_click=on_submit,
                               args=(claim, rubric, asked), key="gl_submit", width="stretch",
                               help="Save the grades, then the next item appears")
    cols[1].form_submit_button("Skip · S", on_click=on_move, args=(claim, "skip"),
                               key="gl_skip", width="stretch", help="Not for me: others get it")
    cols[2].form_submit_button("Later · L", on_click=on_move, args=(claim, "later"),
                               key="gl_later", width="stretch",
                               help="Come back to it after the rest")
    cols[3].form_submit_button("Undo last · Z", on_click=on_undo, key="gl_undo",
                               width="stretch",
                               help="Withdraw your last submission and grade that item again")


def _fresh(claim: review.Claim):
    """A wrapper whose depth alternates from one item to the next. The browser reuses a
    widget drawn at the same place in the same shape, and with it what the previous item's
    control showed as picked (a pick the server never had for the new item): a new item
    drawn one level deeper or shallower than the last gets fresh controls."""
    if st.session_state.get("gl_drawn") != claim.claim_id:
        st.session_state["gl_drawn"] = claim.claim_id
        st.session_state["gl_depth"] = not st.session_state.get("gl_depth", False)
    return st.container() if st.session_state["gl_depth"] else contextlib.nullcontext()


def just_graded(previous: review.Claim) -> None:
    """What others said of the item just graded, read only while its expander is open: a
    closed one costs the next item no query and no drawing."""
    box = st.expander("Judge scores and other reviewers' grades of the item you just graded",
                      key="gl_graded_open", on_change="rerun")
    if box.open:
        with box:
            rg.others_body(review.other_grades(store, previous))


@st.fragment
def grading() -> None:
    # Fixed slots: every run draws the same top-level sequence (notices, the item just graded,
    # the item), so the new item's container takes the old one's
    # place during the fragment rerun instead of appearing beside it (no second Submit button,
    # no second item marker).
    notices, graded, slot = st.container(), st.container(), st.container(key="glslot")
    flash = st.session_state.pop("gl_flash", None)
    if flash:
        getattr(notices, flash[0])(md(flash[1], 2000))  # messages may quote data
    try:
        claim, lost = current_claim()
    except GoldenloopError as exc:
        notices.error(md(str(exc), 2000), icon=":material/error:")
        return
    previous = st.session_state.get("gl_previous")
    if previous is not None and previous.queue_id == queue_id:
        with graded:
            just_graded(previous)
    if claim is None:
        with slot, st.container(key="glempty"):
            left = review.left_for(store, queue_id, who)
            if left:
                st.info(f"{left} items are held by other reviewers right now; they come to you "
                        "if their locks expire.", icon=":material/hourglass:")
            else:
                st.success("Nothing left for you in this queue.", icon=":material/done_all:")
            st.button("Undo my last submission · Z", on_click=on_undo, key="gl_undo0")
        return
    if lost:
        notices.warning("Your lock on this item expired and another reviewer took it. You can "
                        "still submit: your grade is kept, marked late.",
                        icon=":material/lock_open:")
    progress = review.grading_progress(store, queue_id, who)
    asked = review.asked(store, claim)  # with the queue's rubric and purpose: one read
    rubric, adjudicating = asked.rubric, asked.adjudication
    # The item is a form: picks stay in the browser until an action button sends them, so
    # answering reruns nothing (no redraw under the reviewer's clicks, no server work per
    # pick) and Submit sends every answer in the same message that asks for the next item.
    with (slot, _fresh(claim), st.container(key=f"glitem-{claim.claim_id}"),
          st.form(key=f"glform-{claim.claim_id}", border=False, enter_to_submit=False)):
        st.progress(progress.fraction_done,
                    text=f"{progress.left_for_me} left for you · "
                         f"{progress.reviews_done} of {progress.reviews_needed} reviews done")
        actions(claim, rubric, asked.criteria)
        item_col, rubric_col = st.columns([3, 2], gap="large")
        with item_col:
            if adjudicating:
                st.info(("Adjudication: settle the criteria the earlier grades dispute "
                         f"({len(asked.criteria)} of {len(rubric.criteria)}). "
                         if asked.disputed else "Adjudication: settle this item. ")
                        + "The earlier grades and the judges' reasons are shown below "
                        "(blind mode does not apply here).", icon=":material/balance:")
            rg.draw_payload(review.payload(store, claim))
            if adjudicating or not blind:
                rg.draw_others(review.other_grades(store, claim),
                               "Earlier grades: judge scores and other reviewers'")
        with rubric_col:
            rg.controls(rubric, claim.claim_id, asked.criteria)


grading()
# Outside the fragment: the key list and the keyboard script are the same for every item, so
# a submit (a fragment run) sends neither again.
st.caption("Keys: Q W E R T … focus a criterion · digits pick and move on (0 = N/A; "
           "Shift+digit adds a label) · J/K next/previous · F flag · X context · "
           "Ctrl+Enter submit · S skip · L later · Z undo · Esc leaves a text box")
rg.keyboard()
