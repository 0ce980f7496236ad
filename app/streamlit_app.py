"""goldenloop's Streamlit entry: the navigation, and the one place the store is opened.

Add a page with one line in ``SECTIONS``; the Home page links to every page listed here.
A page is a file in its feature's folder, beside that page's helpers, named after its URL
(``review/grade.py`` is served at ``/grade``; tests find a page by that name). There is no
``pages/`` folder: Streamlit would also list one as an old-style multipage app and serve its
files directly on a first visit to their URL.
"""

from __future__ import annotations

import streamlit as st

from goldenloop.errors import GoldenloopError
from goldenloop.store import audit
from goldenloop_app import state
from goldenloop_app.common import identity
from goldenloop_app.untrusted import visible

audit.set_interface("app")  # this run's writes are the app's (jobs and the CLI name theirs)

SECTIONS: dict[str, list[st.Page]] = {
    "Overview": [
        st.Page("home/home.py", title="Home", icon=":material/home:", default=True,
                help="What the store holds: traffic, apps, model versions, grades and imports"),
    ],
    "Monitor": [
        st.Page("monitor/monitor.py", title="Monitor", icon=":material/monitoring:",
                url_path="monitor",
                help="Traffic, latency, tokens, cost, failures and answer quality over time"),
        st.Page("anomalies/anomalies.py", title="Anomalies", icon=":material/crisis_alert:",
                url_path="anomalies",
                help="What detection found: spikes, dips, shifts, new versions and failures"),
        st.Page("compare/compare.py", title="Compare versions", icon=":material/compare_arrows:",
                url_path="compare",
                help="Two model versions, prompt versions or time windows side by side"),
        st.Page("conversations/conversations.py", title="Conversations", icon=":material/forum:",
                url_path="conversations",
                help="Turns per session, drop-off, turns to resolution, mood by turn depth"),
        st.Page("traces/trace.py", title="Traces", icon=":material/account_tree:",
                url_path="trace",
                help="The spans behind a chart; one trace as a tree; one conversation"),
        st.Page("alerts/alerts.py", title="Alerts", icon=":material/notifications_active:",
                url_path="alerts", help="Alert rules, their states and notifications"),
    ],
    "Review": [
        st.Page("review/grade.py", title="Grade", icon=":material/rate_review:", url_path="grade",
                help="Grade queue items with the keyboard: claim, read, score, submit"),
        st.Page("review/queues.py", title="Queues", icon=":material/checklist:", url_path="queues",
                help="Draw review queues by a sampling design; progress, gold accuracy, estimates"),
        st.Page("judge/judges.py", title="Judges", icon=":material/gavel:", url_path="judges",
                help="Versioned LLM judges: run them on samples, follow cost and failures"),
        st.Page("agreement/agreement.py", title="Agreement", icon=":material/handshake:",
                url_path="agreement",
                help="How far judges agree with human grades, and humans with each other"),
    ],
    "Golden sets": [
        st.Page("golden/golden.py", title="Golden sets", icon=":material/workspace_premium:",
                url_path="golden",
                help="Build versioned golden datasets from graded traffic; export and diff"),
        st.Page("experiments/experiments.py", title="Experiments", icon=":material/science:",
                url_path="experiments",
                help="Run test sets against prompts and models, compare runs; canaries"),
    ],
    "Operations": [
        st.Page("ops/imports.py", title="Imports", icon=":material/upload_file:",
                url_path="imports",
                help="Load trace files and see what was kept aside in quarantine, and why"),
        st.Page("ops/jobs.py", title="Jobs", icon=":material/pending_actions:",
                url_path="jobs", help="Progress and results of imports and other long work"),
        st.Page("ops/operations.py", title="Operations", icon=":material/monitor_heart:",
                url_path="operations",
                help="Store and disk sizes, snapshot age, inbox backlog and failed files, job queue"),
        st.Page("ops/audit.py", title="Audit log", icon=":material/history:",
                url_path="audit", help="Who wrote what, when and from where (leads)"),
        st.Page("ops/roles.py", title="Roles", icon=":material/admin_panel_settings:",
                url_path="roles", help="Who leads and who may grade; changes are audited (leads)"),
    ],
}

# An emoji icon: Streamlit draws it as an inline image, where a Material icon as the page icon
# is fetched from a font CDN (the app makes no request beyond its own server).
st.set_page_config(page_title="goldenloop", page_icon="♾️", layout="wide")

sign_in = identity.gate()  # sign-in on and nobody signed in: the sign-in screen, no page
sections = {name: pages for name, pages in SECTIONS.items() if pages}
current = st.navigation(sections)
state.remember_pages(page for pages in sections.values() for page in pages)

try:
    state.get_store()
except GoldenloopError as exc:  # translated once, here, for every page
    st.error("The database cannot be opened.", icon=":material/error:")
    st.text(visible(exc))
    st.stop()

if state.get_store().unavailable:  # a full disk: said on every page until the owner recovers
    st.error("Writes are paused: the disk is full. Grades and imports wait, and pages may fail "
             "to load; the server reopens the database on its own once space is freed.")
    st.text(state.get_store().unavailable)

identity.sidebar(state.get_store(), sign_in)  # who is using the app, and their role
current.run()
