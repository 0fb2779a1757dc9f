"""Per-run context of every page: the config, the signed-in user, the login form.

Login is required unless this very request provably comes from the machine itself, and
is decided again on every script run (`login_required`). Without a sign-in only when all
of these hold: `require_login` is off; the config's `[dashboard] host` and the address
Streamlit listens on are loopback (unset, empty, `0.0.0.0`, `::` and unix sockets count as
remote: Streamlit then listens on every interface); the websocket's peer is loopback; the
`Host` header and the `Origin` both name a loopback address, so a page whose name was
rebound to 127.0.0.1 (DNS rebinding) must sign in; and no proxy header (`Forwarded`,
`X-Forwarded-*`, `X-Real-IP`, `Via`...) is present. A websocket without `Origin` (no
browser sends one without; a script behind a local forwarder does) must sign in too.
Behind a proxy set `require_login = true` all the same.
That local visitor is an admin.

A sign-in is remembered in the browser (a cookie holding a random token; see
`cashwatch.sign_ins`) for `[dashboard] remember_sign_in_hours`, so reloading the page
does not ask for the password again; signing out revokes it on the server.

A config file that stops loading (a typo while someone edits it) does not take the
dashboard down: pages keep the last config that loaded in this process, under a banner
naming the problem, and nothing writes the file until it loads again.
"""

from __future__ import annotations

import ipaddress
import json
import logging
import math
from dataclasses import dataclass, replace
from pathlib import Path
from urllib.parse import urlsplit

import streamlit as st
from streamlit.runtime.scriptrunner import get_script_run_ctx

from cashwatch.auth import (
    LOCAL_ADMIN,
    AuthError,
    SignInBusy,
    SignInGuard,
    TooManySignIns,
    User,
    UserStore,
)
from cashwatch.config import ConfigError, LoadedConfig, load_config, resolve_config_path
from cashwatch.config.app import AppConfig
from cashwatch.dashboard import language
from cashwatch.i18n import N_, _
from cashwatch.sign_ins import SignIn, SignInStore
from cashwatch.util.redact import mask_credentials

log = logging.getLogger(__name__)
# Headers a proxy adds: a request carrying one came through something else first, so
# the loopback peer says nothing about who is really asking.
PROXY_HEADERS = frozenset(
    {
        "forwarded",
        "via",
        "x-real-ip",
        "true-client-ip",
        "x-client-ip",
        "cf-connecting-ip",
        "x-original-forwarded-for",
    }
)
# One guard per dashboard process: back-off per account and per client, and a bound on
# the argon2 verifications (~100 ms, 64 MiB each) running at once.
SIGN_IN_GUARD = SignInGuard()
_USER_KEY = "cashwatch_user"
_TOKEN_KEY = "cashwatch_sign_in_token"  # this session's remembered sign-in
_FINGERPRINT_KEY = "cashwatch_account"  # the account's password fingerprint at sign-in
_COOKIE_SCRIPT_KEY = "cashwatch_cookie_script"  # to run in the browser on the next run
# A role as people read it; the role itself (stored in users.json, checked) stays English
ROLE_LABELS = {"admin": N_("admin"), "operator": N_("operator"), "analyst": N_("analyst")}


def role_label(role: str) -> str:
    """An account's role in the language in effect (an unknown one as it is)."""
    label = ROLE_LABELS.get(role)
    return _(label) if label is not None else role


class PermissionDenied(Exception):
    """An action the signed-in account may not perform."""


@dataclass(frozen=True)
class PageContext:
    loaded: LoadedConfig
    user: User
    # why the file cannot be loaded now ("" when it can); `loaded` is then the last config
    # that did, good for showing but not for writing back
    config_error: str = ""

    @property
    def data_dir(self) -> Path:
        return self.loaded.data_dir

    def require(self, permission: str, site: str | None = None) -> None:
        """Raise PermissionDenied unless the user may do this (at this site)."""
        if not self.user.can(permission):
            raise PermissionDenied(
                _("{user} ({role}) may not {permission}").format(
                    user=self.user.name, role=role_label(self.user.role), permission=permission
                )
            )
        if site is not None and not self.user.sees_site(site):
            raise PermissionDenied(
                _("{user} is limited to sites {sites}; not {site}").format(
                    user=self.user.name, sites=", ".join(self.user.sites), site=repr(site)
                )
            )

    def require_loadable_config(self) -> None:
        """Raise ConfigError while the file does not load: a change written now would be
        made to a file someone is halfway through editing, or to a stale view of it."""
        if self.config_error:
            if self.user.limited_to_sites:  # the reason may name other sites
                raise ConfigError(
                    _("the config file cannot be loaded, so it is not changed; fix it first")
                )
            raise ConfigError(
                _(
                    "the config file cannot be loaded, so it is not changed; fix it first: {error}"
                ).format(error=self.config_error)
            )

    def camera_scope(self) -> frozenset[str] | None:
        """Ids of the configured cameras of the user's sites; None when the user sees all.

        The config says where a camera is now; rows that carry no site of their own
        (worker runs) are shown to a site-limited user only for these cameras.
        """
        if not self.user.limited_to_sites:
            return None
        return frozenset(c.id for c in self.loaded.app.cameras if self.user.sees_site(c.site))


# The last config that loaded, per file, in this dashboard process. Plain dict reads and
# writes are atomic, so the sessions' script threads share it without a lock.
_last_good: dict[Path, LoadedConfig] = {}


def read_config(path: Path | None = None) -> tuple[LoadedConfig | None, str]:
    """The config on disk, else the last one that loaded from that file in this process
    (None if none ever did), with why the file does not load ("" when it does)."""
    key = resolve_config_path(path)
    try:
        loaded = load_config(path)
    except ConfigError as exc:
        return _last_good.get(key), mask_credentials(str(exc))
    _last_good[key] = loaded
    return loaded, ""


def load_config_or_stop() -> tuple[LoadedConfig, str]:
    """The config to draw with and why the file does not load ("" when it does).

    Only when no config ever loaded in this process is there nothing to show: the
    problem is shown and the run stops.
    """
    loaded, error = read_config()
    if loaded is None:
        # Nobody has signed in yet (the accounts' sites are in the config that failed):
        # the reason, with its paths and camera sources, only for a local visitor.
        why = (
            _plain(error)
            if _trusted_local_visitor()
            else _("run `cashwatch check` on the server to see why")
        )
        st.error(_("The configuration cannot be loaded: {reason}").format(reason=why))
        st.stop()
        raise AssertionError("unreachable")  # st.stop() raises; this informs type checkers
    return loaded, error


def config_banner(error: str, *, detail: bool = True) -> None:
    """Why the file does not load; without `detail` (a site-limited account) only that
    it does not, as the message can name other sites' cameras."""
    why = _plain(error) if detail else _("ask an administrator to fix the file")
    st.error(
        _(
            "The configuration cannot be loaded: {reason}  \n"
            "Showing the last configuration that loaded; changes to cameras are off "
            "until the file is fixed."
        ).format(reason=why),
        icon=":material/error:",
    )


def _plain(text: str) -> str:
    # widgets imports this module, so its Markdown escaping is imported when used
    from cashwatch.dashboard.widgets import plain

    return plain(text)


def fresh_context(ctx: PageContext) -> PageContext:
    """The context with the config as it is on disk now (another tab may have changed it)."""
    loaded, error = read_config(ctx.loaded.path)
    return replace(ctx, loaded=loaded or ctx.loaded, config_error=error)


def loopback_address(address: str) -> bool:
    """A loopback IP literal or `localhost`; anything else, an empty or wildcard address
    (every interface) and unix sockets included, is not.

    >>> [loopback_address(a) for a in ("127.0.0.1", "::1", "localhost", "127.3.0.1")]
    [True, True, True, True]
    >>> [loopback_address(a) for a in ("", "0.0.0.0", "::", "unix:///tmp/s", "10.0.0.2")]
    [False, False, False, False, False]
    """
    if address == "localhost":
        return True
    try:
        return ipaddress.ip_address(address).is_loopback
    except ValueError:
        return False


def loopback_host(value: str) -> bool:
    """Whether a `Host` header (`name[:port]`) or an `Origin` (`scheme://name[:port]`)
    names a loopback address; a name rebound to 127.0.0.1 does not.

    >>> [loopback_host(v) for v in ("127.0.0.1:8501", "[::1]:8501", "http://localhost:1")]
    [True, True, True]
    >>> [loopback_host(v) for v in ("evil.example:8501", "null", "", "localhost.evil:80")]
    [False, False, False, False]
    """
    try:
        host = urlsplit(value if "://" in value else f"//{value}").hostname
    except ValueError:
        return False
    return host is not None and loopback_address(host)


def _listening_on_loopback() -> bool:
    return loopback_address(str(st.get_option("server.address") or ""))


def _proxied(headers: dict[str, str]) -> bool:
    return any(name in PROXY_HEADERS or name.startswith("x-forwarded-") for name in headers)


def _local_request() -> bool:
    """This script run's websocket was opened by a browser on this machine, by a
    loopback name, with no proxy in between. Read per run: headers are per session.
    Without a browser (no headers at all, as in AppTest) it is not."""
    headers = {k.lower(): v for k, v in st.context.headers.to_dict().items()}
    return (
        st.context.ip_address is None  # None: a loopback peer (or no client at all)
        and loopback_host(headers.get("host", ""))
        and _local_origin(headers.get("origin"))
        and not _proxied(headers)
    )


def _local_origin(origin: str | None) -> bool:
    """The websocket handshake's `Origin` (the headers Streamlit keeps are that
    request's) names a loopback address. A browser always sends one on a websocket;
    none means a script or a tool (websocat, curl) that may sit behind a local
    forwarder (nginx `proxy_pass`, socat, `ssh -L`, kubectl port-forward) adding no
    header of its own, and Streamlit lets such a client in: so none is remote."""
    return origin is not None and loopback_host(origin)


def _trusted_local_visitor() -> bool:
    """Listening on loopback only, and this request is a local browser's."""
    return _listening_on_loopback() and _local_request()


def login_required(app: AppConfig) -> bool:
    return (
        app.dashboard.require_login
        or not loopback_address(app.dashboard.host)
        or not _trusted_local_visitor()
    )


def _client() -> str:
    """Who is guessing, for the back-off: the websocket's peer (Streamlit's server takes
    it from `X-Forwarded-For` only when the proxy is on loopback; `SignInGuard` counts
    an IPv6 peer by its /64). Behind a proxy that sends no `X-Forwarded-For`, or one on
    another machine, every client is the proxy: one count for all of them."""
    return st.context.ip_address or "loopback"


def _login_form(store: UserStore, loaded: LoadedConfig) -> None:
    st.title("CashWatch")
    st.caption(_("Sign in to continue."))
    with st.form("login"):
        name = st.text_input(_("User name"))
        password = st.text_input(_("Password"), type="password")
        submitted = st.form_submit_button(_("Sign in"))
    if not submitted:
        return
    try:
        user = SIGN_IN_GUARD.authenticate(store, name, password, _client())
    except TooManySignIns as exc:
        st.error(
            _("Too many failed sign-ins; try again in {seconds} s.").format(
                seconds=math.ceil(exc.retry_after_s)
            )
        )
        return
    except SignInBusy:
        st.error(_("The server is busy checking other sign-ins; try again in a moment."))
        return
    except AuthError as exc:
        st.error(str(exc))
        return
    if user is None:
        st.error(_("Wrong user name or password."))
        return
    st.session_state[_USER_KEY] = user.name
    st.session_state[_FINGERPRINT_KEY] = store.fingerprint(user.name)
    _remember(loaded, user.name)
    st.rerun()


def _cookie_name() -> str:
    # Cookies are per host, not per port or path: two dashboards on one server (or
    # behind one proxy under two paths) keep their own.
    path = "".join(c if c.isalnum() else "_" for c in str(st.get_option("server.baseUrlPath")))
    return f"cashwatch_sign_in_{st.get_option('server.port')}{'_' + path if path else ''}"


def _cookie_token() -> str | None:
    token = st.context.cookies.get(_cookie_name())
    return token if isinstance(token, str) and token else None  # a test run has no browser


def _cookie_script(token: str, max_age_s: float) -> str:
    """Sets (or with max_age_s 0, deletes) the sign-in cookie. Streamlit cannot send a
    Set-Cookie header from a script run, so the page sets it; `Secure` when served over
    HTTPS (behind a TLS proxy), SameSite=Strict so no other site's page sends it."""
    path = "/" + str(st.get_option("server.baseUrlPath") or "").strip("/")
    cookie = f"{_cookie_name()}={token}; Max-Age={int(max_age_s)}; Path={path}; SameSite=Strict"
    return (
        f"<script>document.cookie = {json.dumps(cookie)} + "
        "(location.protocol === 'https:' ? '; Secure' : '');</script>"
    )


def _remember(loaded: LoadedConfig, name: str) -> None:
    hours = loaded.app.dashboard.remember_sign_in_hours
    fingerprint = UserStore(loaded.data_dir).fingerprint(name)
    if hours <= 0 or fingerprint is None:
        return
    try:
        token = SignInStore(loaded.data_dir).issue(name, fingerprint, hours * 3600)
    except OSError as exc:  # a read-only data folder: signed in, just not remembered
        log.warning("cannot remember the sign-in of %s: %s", name, exc)
        return
    st.session_state[_TOKEN_KEY] = token
    st.session_state[_COOKIE_SCRIPT_KEY] = _cookie_script(token, hours * 3600)


def _run_cookie_script() -> None:
    script = st.session_state.pop(_COOKIE_SCRIPT_KEY, None)
    if script:
        st.html(script, unsafe_allow_javascript=True)


def _valid_sign_in(loaded: LoadedConfig, token: str) -> SignIn | None:
    """What `token` signs in, unless it expired (also by a lifetime shortened since), was
    signed out, or the account's password changed since."""
    hours = loaded.app.dashboard.remember_sign_in_hours
    if hours <= 0:
        return None
    sign_in = SignInStore(loaded.data_dir).resolve(token, max_age_s=hours * 3600)
    if sign_in is None or UserStore(loaded.data_dir).fingerprint(sign_in.user) != sign_in.account:
        return None
    return sign_in


def _remembered(loaded: LoadedConfig) -> str | None:
    """The account this browser's sign-in cookie stands for, if it is still good."""
    token = _cookie_token()
    sign_in = _valid_sign_in(loaded, token) if token is not None else None
    if sign_in is None:
        return None
    st.session_state[_USER_KEY] = sign_in.user
    st.session_state[_TOKEN_KEY] = token
    st.session_state[_FINGERPRINT_KEY] = sign_in.account  # checked equal just now
    return sign_in.user


def _still_signed_in(loaded: LoadedConfig, name: str) -> bool:
    """An open session ends with its sign-in: signed out in another tab (the same
    cookie), expired, or the password changed since (also without a remembered one)."""
    token = st.session_state.get(_TOKEN_KEY)
    if token is not None:
        sign_in = _valid_sign_in(loaded, token)
        return sign_in is not None and sign_in.user == name
    fingerprint = st.session_state.get(_FINGERPRINT_KEY)
    return fingerprint is None or UserStore(loaded.data_dir).fingerprint(name) == fingerprint


def recheck_sign_in(ctx: PageContext) -> None:
    """For self-refreshing fragments, which reuse their page's context and never pass
    through `page_context`: a sign-in that ended since (signed out in another tab, the
    password changed, the account removed) ends the page too, not at the next click; an
    account whose role or sites changed gets the whole page drawn again for its new
    rights (the fragment's buttons were drawn for the old ones)."""
    if signed_in_user(ctx.loaded) != ctx.user:
        st.rerun(scope="app")


def acting_context(ctx: PageContext) -> PageContext:
    """The context to act with, from a button callback: the config as it is now and the
    account as it is now. Callbacks get the context the page was drawn with; since then
    the sign-in may have ended or the account lost rights. Outside a script run (Python
    calling an action directly) there is no browser session to re-check: the caller's
    context stands."""
    if get_script_run_ctx() is None:
        return ctx
    loaded, error = read_config(ctx.loaded.path)
    loaded = loaded or ctx.loaded
    user = signed_in_user(loaded)
    if user is None or user.name != ctx.user.name:
        raise PermissionDenied(_("{user} is not signed in any more").format(user=ctx.user.name))
    return replace(ctx, loaded=loaded, user=user, config_error=error)


def _forget_session() -> None:
    for key in (_USER_KEY, _TOKEN_KEY, _FINGERPRINT_KEY):
        st.session_state.pop(key, None)


def signed_in_user(loaded: LoadedConfig) -> User | None:
    """The account of this session, re-read each run so a removed account is signed out."""
    if not login_required(loaded.app):
        return LOCAL_ADMIN
    name = st.session_state.get(_USER_KEY)
    try:
        if name and not _still_signed_in(loaded, name):
            _forget_session()
            name = None
        if not name:
            name = _remembered(loaded)
    except AuthError:
        return None
    if not name:
        return None
    try:
        users = {user.name: user for user in UserStore(loaded.data_dir).users()}
    except AuthError:
        return None
    return users.get(name)


def require_login(loaded: LoadedConfig) -> User:
    """The signed-in user; otherwise draws the login form and stops the run."""
    _run_cookie_script()  # just signed in or out: the browser keeps or forgets it
    user = signed_in_user(loaded)
    if user is not None:
        return user
    store = UserStore(loaded.data_dir)
    try:
        has_users = bool(store.users())
    except AuthError as exc:
        st.error(str(exc))
        st.stop()
    if not has_users:
        st.error(
            _(
                "Login is required here but there are no accounts yet. Create one with "
                "`cashwatch users add NAME --role admin`."
            )
        )
    else:
        _login_form(store, loaded)
    st.stop()
    raise AssertionError("unreachable")


def sign_out(data_dir: Path) -> None:
    """Forget the user in this session, revoke the remembered sign-in on the server (a
    copy of the cookie anywhere else dies with it) and delete the browser's cookie."""
    token = st.session_state.get(_TOKEN_KEY) or _cookie_token()
    _forget_session()
    if token:
        try:
            SignInStore(data_dir).revoke(token)
        except OSError as exc:  # signed out here all the same; the token lives to expiry
            log.warning("cannot revoke a remembered sign-in: %s", exc)
        st.session_state[_COOKIE_SCRIPT_KEY] = _cookie_script("", 0)


def page_context(*, banner: bool = True) -> PageContext:
    """Call at the top of every page. The router passes banner=False: the page it runs
    draws the banner, once, and only after the login check (the error names the file)."""
    loaded, error = load_config_or_stop()
    language.settle(loaded, None)  # the sign-in form speaks the dashboard's language
    ctx = PageContext(loaded=loaded, user=require_login(loaded), config_error=error)
    language.settle(loaded, ctx.user)  # then the account's own
    if error and banner:
        config_banner(error, detail=not ctx.user.limited_to_sites)
    return ctx


def guard_page(permission: str) -> PageContext:
    ctx = page_context()
    if not ctx.user.can(permission):
        st.error(
            _("Your account ({role}) cannot open this page.").format(role=role_label(ctx.user.role))
        )
        st.stop()
    return ctx
