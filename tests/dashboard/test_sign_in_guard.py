"""Password guessing: back-off per account and per client, bounded argon2 work, logs;
and accounts that end or lose rights while their page is open."""

from __future__ import annotations

import json
import threading
from pathlib import Path

import pytest

from cashwatch.auth import SignInBusy, SignInGuard, TooManySignIns, UserStore
from cashwatch.config import load_config
from cashwatch.dashboard import session
from tests.dashboard.conftest import PASSWORD, Dashboard, sign_in, signed_in
from tests.harness import wait_for


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def store(tmp_path: Path) -> UserStore:
    users = UserStore(tmp_path)
    users.add("ada", PASSWORD, "admin")
    return users


def test_an_account_is_held_back_after_failures_and_freed_by_time(
    store: UserStore, caplog: pytest.LogCaptureFixture
) -> None:
    clock = Clock()
    guard = SignInGuard(account_free=2, client_free=100, base_s=1.0, max_s=8.0, clock=clock)
    for _ in range(2):
        assert guard.authenticate(store, "ada", "wrong password", "10.0.0.5") is None
    with pytest.raises(TooManySignIns) as held:  # even the right password is not checked
        guard.authenticate(store, "ada", PASSWORD, "10.0.0.6")
    assert held.value.retry_after_s == pytest.approx(1.0)
    clock.now += 1.0
    assert guard.authenticate(store, "ada", "wrong again", "10.0.0.6") is None
    assert guard.retry_after("ada", "10.0.0.7") == pytest.approx(2.0)  # doubling
    for _ in range(10):
        clock.now += 60
        guard.authenticate(store, "ada", "wrong", "10.0.0.6")
    assert guard.retry_after("ada", "x") == pytest.approx(8.0)  # capped
    clock.now += 8
    assert guard.authenticate(store, "ada", PASSWORD, "10.0.0.6") is not None
    assert guard.retry_after("ada", "10.0.0.6") == 0  # a success clears it
    assert "failed sign-in for 'ada' from 10.0.0.5" in caplog.text
    assert PASSWORD not in caplog.text and "wrong" not in caplog.text


def test_a_client_guessing_many_accounts_is_held_back(store: UserStore) -> None:
    guard = SignInGuard(account_free=100, client_free=3, clock=Clock())
    for name in ("ada", "bob", "carl"):
        assert guard.authenticate(store, name, "guess", "10.0.0.5") is None
    with pytest.raises(TooManySignIns):
        guard.authenticate(store, "dora", "guess", "10.0.0.5")
    assert guard.authenticate(store, "ada", PASSWORD, "10.0.0.9") is not None  # others not


class _SlowStore(UserStore):
    """An account store whose password check says when it starts and lasts until
    released (an argon2 check held open)."""

    def __init__(self, data_dir: Path, started: threading.Event, release: threading.Event) -> None:
        super().__init__(data_dir)
        self.started, self.release = started, release

    def authenticate(self, name: str, password: str):  # type: ignore[no-untyped-def]
        self.started.set()
        self.release.wait(10)
        return super().authenticate(name, password)


def test_password_checks_run_a_bounded_number_at_a_time(store: UserStore) -> None:
    guard = SignInGuard(concurrent=1, queue_s=0.05)
    started, release = threading.Event(), threading.Event()

    slow = _SlowStore(store.path.parent, started, release)
    first = threading.Thread(target=guard.authenticate, args=(slow, "ada", PASSWORD, "a"))
    first.start()
    assert started.wait(10)
    with pytest.raises(SignInBusy):
        guard.authenticate(store, "ada", PASSWORD, "b")
    release.set()
    first.join(10)
    assert guard.authenticate(store, "ada", PASSWORD, "b") is not None


def test_parallel_guesses_run_no_more_checks_than_the_free_tries(store: UserStore) -> None:
    """Thirty guesses at once, each check held open until every guess has either
    started its check or been refused: only the account's free tries get checked."""
    guesses, free = 30, 5
    guard = SignInGuard(account_free=free, client_free=1000, concurrent=guesses, queue_s=30)
    checked, held, lock, release = [0], [0], threading.Lock(), threading.Event()

    class SlowStore(UserStore):
        def authenticate(self, name: str, password: str):  # type: ignore[no-untyped-def]
            with lock:
                checked[0] += 1
            release.wait(30)  # an argon2 check that lasts until every guess is in
            return None

    def guess(i: int) -> None:
        try:
            guard.authenticate(SlowStore(store.path.parent), "ada", f"guess {i}", f"10.0.1.{i}")
        except TooManySignIns:
            with lock:
                held[0] += 1

    threads = [threading.Thread(target=guess, args=(i,)) for i in range(guesses)]
    for thread in threads:
        thread.start()
    try:
        wait_for(lambda: checked[0] + held[0] == guesses, 30, "every guess to start or stop")
    finally:
        release.set()
        for thread in threads:
            thread.join(30)
    assert (checked[0], held[0]) == (free, guesses - free)


def test_a_sign_in_of_ones_own_does_not_clear_the_guesses_at_others(store: UserStore) -> None:
    guard = SignInGuard(account_free=100, client_free=3, clock=Clock())
    for name in ("bob", "carl"):
        assert guard.authenticate(store, name, "guess", "10.0.0.5") is None
    assert guard.authenticate(store, "ada", PASSWORD, "10.0.0.5") is not None
    assert guard.authenticate(store, "dora", "guess", "10.0.0.5") is None  # the 3rd
    with pytest.raises(TooManySignIns):
        guard.authenticate(store, "erin", "guess", "10.0.0.5")


def test_client_failures_are_forgotten_a_while_after_the_last(store: UserStore) -> None:
    """Two clients with two failures each; an hour on, one more from each: the one
    whose last failure is just over the hour old starts counting afresh."""
    clock = Clock()
    guard = SignInGuard(account_free=100, client_free=2, forget_s=3600, clock=clock)
    for client in ("10.0.0.5", "10.0.0.5", "10.0.0.6"):
        guard.authenticate(store, "bob", "guess", client)
    clock.now += 1
    guard.authenticate(store, "bob", "guess", "10.0.0.6")
    clock.now += 3600
    for client in ("10.0.0.5", "10.0.0.6"):
        guard.authenticate(store, "carl", "guess", client)
    assert guard.retry_after("dora", "10.0.0.5") == 0  # forgotten: 1 failure now
    assert guard.retry_after("dora", "10.0.0.6") > 0  # kept: 3 failures


def test_ipv6_clients_are_counted_per_64(store: UserStore) -> None:
    guard = SignInGuard(account_free=100, client_free=2, clock=Clock())
    for address in ("2001:db8::1", "2001:db8::2:3"):  # one host, a new address per guess
        assert guard.authenticate(store, "bob", "guess", address) is None
    with pytest.raises(TooManySignIns):
        guard.authenticate(store, "carl", "guess", "2001:db8::ffff:1")
    assert guard.retry_after("carl", "2001:db8:0:1::1") == 0  # the next /64 is another


def test_the_failure_table_is_bounded_keeping_the_latest(store: UserStore) -> None:
    """Made-up names, all recent, beyond the cap: the oldest failure makes room."""
    guard = SignInGuard(account_free=1, client_free=1000, capacity=3, clock=Clock())
    for i in range(10):
        guard.authenticate(store, f"made-up-{i}", "guess", "10.0.0.5")
    assert [guard.retry_after(f"made-up-{i}", "x") > 0 for i in range(10)] == [False] * 7 + [
        True
    ] * 3


def test_a_busy_refusal_counts_as_no_failure(store: UserStore) -> None:
    guard = SignInGuard(account_free=1, concurrent=1, queue_s=0.05, clock=Clock())
    started, release = threading.Event(), threading.Event()

    slow = _SlowStore(store.path.parent, started, release)
    first = threading.Thread(target=guard.authenticate, args=(slow, "bob", "guess", "a"))
    first.start()
    assert started.wait(10)
    with pytest.raises(SignInBusy):
        guard.authenticate(store, "ada", "wrong", "b")
    release.set()
    first.join(10)
    assert guard.authenticate(store, "ada", PASSWORD, "b") is not None  # not held back


def test_the_login_form_refuses_while_held_back(
    remote_dash: Dashboard, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(session, "SIGN_IN_GUARD", SignInGuard(account_free=2, clock=Clock()))
    at = remote_dash.app().run()
    for _ in range(2):
        sign_in(at, "ada", "wrong password")
    sign_in(at, "ada")
    assert any("Too many failed sign-ins; try again in 1 s" in e.value for e in at.error)
    assert [t.label for t in at.text_input] == ["User name", "Password"]  # not signed in


def test_a_button_drawn_before_sign_out_does_nothing_after(dash: Dashboard) -> None:
    at = dash.app().run()
    stop = at.button(key="stop_cam-a")
    UserStore(dash.data_dir).remove("ada")  # the account ends while the page is open
    stop.click().run()
    assert load_config(dash.config_path).camera("cam-a").enabled is True
    assert not at.metric  # and the page is gone with the sign-in


def _change_account(data_dir: Path, name: str, **fields: object) -> None:
    """Role or sites changed in place, the password (and so the sign-in) kept: what a
    role-editing tool would do, and what `recheck_sign_in` checked no more than names."""
    path = data_dir / "users.json"
    users = json.loads(path.read_text())
    users["users"][name].update(fields)
    path.write_text(json.dumps(users))


def test_a_demoted_account_cannot_use_the_buttons_it_was_drawn(dash: Dashboard) -> None:
    """The click's handler re-reads the account (`acting_context`); the redraw after it
    is the whole script's (a fragment's own re-check is tested below)."""
    at = dash.app().run()
    stop, restart = at.button(key="stop_cam-a"), at.button(key="restart_cam-a")
    _change_account(dash.data_dir, "ada", role="operator")
    stop.click().run()
    assert load_config(dash.config_path).camera("cam-a").enabled is True
    assert any("Stop cam-a refused" in e.value for e in at.error), [e.value for e in at.error]
    assert not {"stop_cam-a", "restart_cam-a"} & {b.key for b in at.button}  # redrawn
    restart.click().run()
    assert not list((dash.data_dir / "requests").glob("*.json"))


def _stale_fragment_script(fragment: str) -> None:
    """A page whose first run draws its context and keeps it; the next run is a
    fragment's tick: only `fragment` runs, with that context, as Streamlit reruns a
    fragment alone with the arguments of the run that drew it (AppTest cannot run a
    fragment alone, so this script stands in for it). When the fragment asks for the
    whole page, the page is drawn again from the top, with a fresh context."""
    import streamlit as st

    from cashwatch.config.evidence import ClipConfig
    from cashwatch.dashboard import events_view, session

    stale = st.session_state.pop("stale_ctx", None)
    if stale is None:
        ctx = session.page_context()
        st.session_state["stale_ctx"] = ctx
        st.markdown(f"page drawn for {ctx.user.role} of {ctx.user.sites or 'all sites'}")
        return
    if fragment == "recheck":
        session.recheck_sign_in(stale)
    else:  # the clip countdown of an event not (or no longer) in the history
        events_view._clip_countdown(stale, "no-such-event", ClipConfig())
    st.markdown("fragment kept the old page")


def _tick(dash: Dashboard, fragment: str, change: dict[str, object] | None) -> list[str]:
    """What a page shows after one fragment tick, the account changed in between."""
    from streamlit.testing.v1 import AppTest

    at = signed_in(
        AppTest.from_function(_stale_fragment_script, args=(fragment,), default_timeout=20),
        dash.data_dir,
        "ada",
    )
    at.run()
    assert [m.value for m in at.markdown] == ["page drawn for admin of all sites"]
    if change is None:
        UserStore(dash.data_dir).remove("ada")
    elif change:
        _change_account(dash.data_dir, "ada", **change)
    at.run()
    assert not at.exception, at.exception
    return [m.value for m in at.markdown] + [e.value for e in at.error]


@pytest.mark.parametrize("fragment", ["recheck", "countdown"])
def test_a_fragment_tick_keeps_the_page_while_the_account_is_unchanged(
    dash: Dashboard, fragment: str
) -> None:
    assert _tick(dash, fragment, {}) == ["fragment kept the old page"]


@pytest.mark.parametrize("fragment", ["recheck", "countdown"])
@pytest.mark.parametrize(
    ("change", "drawn"),
    [
        ({"sites": ["lobby"]}, "page drawn for admin of ('lobby',)"),
        ({"role": "operator"}, "page drawn for operator of all sites"),
    ],
)
def test_a_fragment_tick_redraws_the_page_for_changed_rights(
    dash: Dashboard, fragment: str, change: dict[str, object], drawn: str
) -> None:
    assert _tick(dash, fragment, change) == [drawn]


@pytest.mark.parametrize("fragment", ["recheck", "countdown"])
def test_a_fragment_tick_ends_the_page_of_a_removed_account(dash: Dashboard, fragment: str) -> None:
    shown = _tick(dash, fragment, None)
    assert "fragment kept the old page" not in shown and not any(
        "page drawn" in s for s in shown
    ), shown
