"""Who is using the app, in the sign-in mode the secrets files configure
(goldenloop.access.signin; the operator docs' "Sign-in" section):

* OpenID Connect: ``gate`` shows a sign-in screen until ``st.login`` has run; the ID token's
  e-mail (or subject) is the reviewer identity and nobody types a name.
* Trusted proxy: the user the proxy's header names, only on a connection from the proxy.
* Off: a name picked from the reviewers already known or typed in the sidebar (an honour
  system), kept in the session and in the URL's ``reviewer`` query parameter so a reload
  keeps it; the sidebar of every page says so.

With no ``roles.yaml`` the first identity to arrive becomes the lead (the file is written
naming them, audited) and the sidebar says how that lead was named.
"""

from __future__ import annotations

import streamlit as st
from streamlit import config as st_config

from goldenloop import review
from goldenloop.access import roles, signin
from goldenloop.store import Store
from goldenloop_app.untrusted import visible

KEY = "reviewer"  # the honour mode's session key and URL query parameter
_WHO = "goldenloop_identity"  # this run's identity, set by sidebar() before the page runs
HONOUR_NOTE = ("Sign-in is off: anyone who can open this page can type any name. That suits "
               "one person on localhost; the operator docs say how to turn sign-in on.")


def config() -> signin.SignIn:
    """The sign-in mode of the secrets files Streamlit reads (and st.login uses)."""
    return signin.load([*st_config.get_option("secrets.files")])


def gate() -> signin.SignIn:
    """Before any page: stop the run with a sign-in screen when sign-in is on and this
    session is not signed in; a broken sign-in configuration shows no page at all."""
    try:
        cfg = config()
    except signin.SignInError as exc:
        st.error("Sign-in is configured but its settings cannot be used, so no page is shown "
                 "until the secrets file is fixed.", icon=":material/lock:")
        st.text(visible(exc))
        st.stop()
    if cfg.mode is signin.Mode.OIDC and not st.user.is_logged_in:
        st.title("goldenloop")
        st.write("Sign in with your organisation's account to review and grade.")
        st.button("Sign in", on_click=st.login, type="primary", icon=":material/login:")
        st.stop()
    if cfg.mode is signin.Mode.PROXY and _from_proxy(cfg) is None:
        st.error("This goldenloop signs people in through a proxy, and this connection did not "
                 "come through it with a user name. Open goldenloop at the proxy's address.",
                 icon=":material/lock:")
        st.stop()
    return cfg


def act() -> None:
    """Name this session's identity for the library's role checks. Widget callbacks run
    before the page (and so before ``sidebar``), possibly in a fresh thread whose context
    names nobody: each callback that writes calls this first."""
    roles.set_actor(st.session_state.get(_WHO) or "")


def sidebar(store: Store, cfg: signin.SignIn) -> str | None:
    """Draw who is using the app and their role; the identity, or None (honour mode, no name)."""
    who = _signed_in(cfg) if cfg.on else _typed(store)
    st.session_state[_WHO] = who
    roles.set_actor(who or "")  # the library checks this run's writes as theirs; nobody: refused
    if who is None:
        return None
    try:  # no roles.yaml: this first identity becomes the lead (never "everyone leads")
        roles.claim_first_lead(store, who, "the first to sign in" if cfg.on else
                               "the first name used in the app")
        found = roles.load(store.path.parent)
    except roles.RolesError as exc:
        st.error("roles.yaml beside the database cannot be used: fix it to go on.")
        st.text(visible(exc))
        st.stop()
    role = found.role_of(who)
    st.sidebar.text(visible(f"{who} · {role.value if role else 'no role'}"))
    if found.bootstrap and found.leads == {who}:  # still the lead goldenloop named
        st.sidebar.text(visible(f"Lead since {found.bootstrap} (no roles.yaml existed)"))
    if cfg.mode is signin.Mode.OIDC:
        st.sidebar.button("Sign out", on_click=st.logout, icon=":material/logout:")
    return who


def _signed_in(cfg: signin.SignIn) -> str:
    try:
        who = (signin.identity_from_claims(st.user.to_dict()) if cfg.mode is signin.Mode.OIDC
               else _from_proxy(cfg))
    except signin.SignInError as exc:
        st.error("You are signed in, but goldenloop cannot use your identity.")
        st.text(visible(exc))
        if cfg.mode is signin.Mode.OIDC:
            st.button("Sign out", on_click=st.logout)
        st.stop()
    st.sidebar.caption("Signed in as")
    return who


def _from_proxy(cfg: signin.SignIn) -> str | None:
    try:
        return signin.identity_from_proxy(cfg, dict(st.context.headers), st.context.ip_address)
    except signin.SignInError:
        return None


def _use_picked() -> None:
    picked = st.session_state.get("gl_known_reviewer")
    if picked:
        st.session_state[KEY] = picked


def _typed(store: Store) -> str | None:
    known = review.known_reviewers(store)
    if known:  # pick a known name (a callback fills the name box before it is drawn)
        st.sidebar.selectbox("Pick a known reviewer", known, index=None, format_func=visible,
                             key="gl_known_reviewer", on_change=_use_picked,
                             placeholder="or type a new name below")
    raw = st.sidebar.text_input(
        "Your name", key=KEY, bind="query-params", placeholder="e.g. ana",
        help="Grades, claims and progress are kept under this name. Sign-in is off: "
             "roles.yaml beside the database says who leads.")
    st.sidebar.caption(HONOUR_NOTE)
    who = _normalized(st.session_state.get(KEY) or st.query_params.get(KEY))
    if who is None:
        st.sidebar.caption("Type your name to grade or run queues." if not raw else
                           "That name cannot be used.")
    return who


def _normalized(raw: str | None) -> str | None:
    if not raw:
        return None
    try:
        return roles.normalize_name(raw)
    except roles.RolesError:
        return None


def current(store: Store) -> str | None:
    """This run's identity: signed in, named by the proxy, or typed (honour mode)."""
    if _WHO in st.session_state:
        return st.session_state[_WHO]
    return _normalized(st.session_state.get(KEY) or st.query_params.get(KEY))


def can(store: Store, who: str | None, action: roles.Action) -> bool:
    return who is not None and roles.can(store, who, action)
