"""The dashboard's language: the account's own choice, else `[dashboard] language`.

Every run of the router settles the session's language before anything is drawn
(`settle`): the sign-in form speaks the dashboard's default, a signed-in account its own
choice (stored with the account in `users.json`, so it follows the account to any browser),
and the local admin of a loopback dashboard, which has no account, keeps its choice for
the browser session. `cashwatch.i18n._` asks this module for the session's language, so
a fragment that reruns on its own (in a fresh thread) speaks it too.
"""

from __future__ import annotations

import logging

import streamlit as st
from streamlit.runtime.scriptrunner import get_script_run_ctx

from cashwatch import i18n
from cashwatch.auth import LOCAL_ADMIN, AuthError, User, UserStore
from cashwatch.config import LoadedConfig
from cashwatch.i18n import LANGUAGE_NAMES, _

log = logging.getLogger(__name__)
_KEY = "cashwatch_language"  # the language this session speaks
_LOCAL_CHOICE_KEY = "cashwatch_language_local"  # the local admin's choice, this session only
_ERROR_KEY = "cashwatch_language_error"


def _session_language() -> str | None:
    # not a dashboard run (a thread of its own): no session, and no warning about it
    if get_script_run_ctx(suppress_warning=True) is None:
        return None
    value = st.session_state.get(_KEY)
    return value if isinstance(value, str) else None


def settle(loaded: LoadedConfig, user: User | None) -> str:
    """Make this session speak the user's language (None: nobody signed in yet) and
    return it. Read again on every run, so a choice made in another tab follows."""
    i18n.set_session_language(_session_language)
    code: str = loaded.app.dashboard.language
    if user is not None:
        chosen = st.session_state.get(_LOCAL_CHOICE_KEY) if user is LOCAL_ADMIN else user.language
        if isinstance(chosen, str) and chosen in LANGUAGE_NAMES:
            code = chosen
    st.session_state[_KEY] = code
    return code


def picker(loaded: LoadedConfig, user: User) -> None:
    """The sidebar's language choice; an account keeps it for its next sign-in.

    The widget's key carries the language it was drawn in: a choice made in another tab
    (the account's stored language changed) then draws a fresh picker showing it, where
    one shared key would keep showing this tab's old choice."""
    codes = list(LANGUAGE_NAMES)
    current = str(st.session_state.get(_KEY, loaded.app.dashboard.language))
    key = picker_key(current)
    st.sidebar.selectbox(
        _("Language"),
        codes,
        index=codes.index(current) if current in codes else 0,
        format_func=LANGUAGE_NAMES.__getitem__,
        key=key,
        on_change=_choose,
        args=(loaded, user, key),
    )
    error = st.session_state.pop(_ERROR_KEY, None)
    if error:
        st.sidebar.error(_("Cannot save the language: {error}").format(error=error))


def picker_key(code: str) -> str:
    """The picker's widget key while the session speaks `code`."""
    return f"cashwatch_language_picker_{code}"


def _choose(loaded: LoadedConfig, user: User, key: str) -> None:
    """The picker changed (runs before the next run, which `settle`s on the new choice)."""
    chosen = st.session_state.get(key)
    if chosen not in LANGUAGE_NAMES:
        return
    if user is LOCAL_ADMIN:
        st.session_state[_LOCAL_CHOICE_KEY] = chosen
        return
    try:
        UserStore(loaded.data_dir).set_language(user.name, chosen)
    except (AuthError, OSError) as exc:
        log.warning("cannot save %s's language: %s", user.name, exc)
        st.session_state[_ERROR_KEY] = str(exc)
