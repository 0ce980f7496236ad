"""Who is using the app: a name chosen in the sidebar (an honour system, no login provider),
kept in the session and in the URL's ``reviewer`` query parameter so a reload keeps it, and
the role ``roles.yaml`` gives that name."""

from __future__ import annotations

import streamlit as st

from goldenloop.access import roles
from goldenloop.store import Store
from goldenloop_app.untrusted import visible

KEY = "reviewer"  # the session key and the URL query parameter


def sidebar(store: Store) -> str | None:
    """Draw the name box and the role; the normalized name, or None when none is usable."""
    raw = st.sidebar.text_input(
        "Your name", key=KEY, bind="query-params", placeholder="e.g. ana",
        help="Grades, claims and progress are kept under this name. There is no login: "
             "roles.yaml beside the database says who leads.")
    who = current(store)
    if who is None:
        st.sidebar.caption("Type your name to grade or run queues." if not raw else
                           "That name cannot be used.")
        return None
    role = roles.load(store.path.parent).role_of(who)
    st.sidebar.text(visible(f"{who} · {role.value if role else 'no role'}"))
    return who


def current(store: Store) -> str | None:
    """The chosen name, normalized, or None."""
    raw = st.session_state.get(KEY) or st.query_params.get(KEY)
    if not raw:
        return None
    try:
        return roles.normalize_name(raw)
    except roles.RolesError:
        return None


def can(store: Store, who: str | None, action: roles.Action) -> bool:
    return who is not None and roles.can(store, who, action)
