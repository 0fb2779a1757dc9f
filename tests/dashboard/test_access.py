"""Access control: login when reachable from other machines, roles, site limits, CLI."""

from __future__ import annotations

import subprocess
import sys

import pyarrow as pa
import pytest
from streamlit.testing.v1 import AppTest

from cashwatch.auth import AuthError, User, UserStore
from cashwatch.config import ConfigError, load_config
from cashwatch.dashboard import actions, session
from cashwatch.dashboard.session import PageContext, PermissionDenied
from cashwatch.dashboard.widgets import CONFIG_PROBLEM_FOR_SITE_USERS
from tests.dashboard.builders import EVENT_ID
from tests.dashboard.conftest import PASSWORD, REPO, Dashboard, shown, sign_in


def test_login_is_required_when_listening_on_all_addresses(remote_dash: Dashboard) -> None:
    at = remote_dash.app().run()
    assert not at.exception, at.exception
    assert not at.metric  # nothing but the login form
    assert [t.label for t in at.text_input] == ["User name", "Password"]
    sign_in(at, "ada", "wrong password")
    assert any("Wrong user name or password" in e.value for e in at.error)
    sign_in(at, "ada")
    assert not at.exception, at.exception
    assert "Front desk" in "\n".join(m.value for m in at.markdown)


def test_operator_sees_no_admin_actions_and_is_refused_server_side(remote_dash: Dashboard) -> None:
    at = sign_in(remote_dash.app().run(), "otto")
    assert not at.exception, at.exception
    keys = {b.key for b in at.button}
    assert not keys & {"stop_cam-a", "start_all", "restart_cam-a"}
    with pytest.raises(ValueError, match="Could not find a navigation page"):
        at.switch_page("pages/cameras.py")  # not even registered for an operator
    markdown = "\n".join(m.value for m in at.markdown)
    assert "Front desk" in markdown and "Back office" not in markdown  # limited to lobby

    loaded = load_config(remote_dash.config_path)
    otto = {u.name: u for u in UserStore(remote_dash.data_dir).users()}["otto"]
    ctx = PageContext(loaded=loaded, user=otto)
    with pytest.raises(PermissionDenied):
        actions.set_enabled(ctx, "cam-a", False)  # a forged click is refused too
    with pytest.raises(PermissionDenied, match="limited to sites"):
        actions.review(ctx, {"event_id": "office-evt-1", "site": "office"}, "confirmed", None)
    assert load_config(remote_dash.config_path).camera("cam-a").enabled is True


def test_analyst_may_query_but_not_review(remote_dash: Dashboard) -> None:
    at = sign_in(remote_dash.app().run(), "ana")
    at.switch_page("pages/events.py").run()
    assert not at.exception, at.exception
    assert not {"ev_confirm", "ev_false"} & {b.key for b in at.button}
    at.switch_page("pages/sql.py").run()
    assert at.button(key="sql_run")
    ana = {u.name: u for u in UserStore(remote_dash.data_dir).users()}["ana"]
    ctx = PageContext(loaded=load_config(remote_dash.config_path), user=ana)
    with pytest.raises(PermissionDenied):
        actions.review(ctx, {"event_id": EVENT_ID, "site": "lobby"}, "confirmed", None)


def test_users_file_holds_argon2_hashes_only(remote_dash: Dashboard) -> None:
    text = (remote_dash.data_dir / "users.json").read_text()
    assert PASSWORD not in text and "$argon2id$" in text
    store = UserStore(remote_dash.data_dir)
    assert store.authenticate("ada", PASSWORD) is not None
    assert store.authenticate("nobody", PASSWORD) is None
    with pytest.raises(AuthError, match="unknown role 'boss'; valid: admin, operator, analyst"):
        store.add("bob", PASSWORD, "boss")


def test_cli_adds_lists_and_removes_users(offline_dash: Dashboard) -> None:
    def cashwatch(*args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [
                sys.executable,
                "-m",
                "cashwatch.cli",
                "users",
                "--config",
                str(offline_dash.config_path),
                *args,
            ],
            input=stdin,
            capture_output=True,
            text=True,
            cwd=REPO,
            timeout=60,
        )

    added = cashwatch(
        "add",
        "eve",
        "--role",
        "operator",
        "--site",
        "lobby",
        "--password-stdin",
        stdin=PASSWORD + "\n",
    )
    assert added.returncode == 0, added.stderr
    listed = cashwatch("list")
    assert listed.stdout.strip() == "ada\tadmin\t*\neve\toperator\tlobby"
    short = cashwatch("add", "joe", "--role", "admin", "--password-stdin", stdin="abc\n")
    assert short.returncode == 2 and "password too short" in short.stderr
    assert cashwatch("remove", "eve").returncode == 0
    assert cashwatch("list").stdout.strip() == "ada\tadmin\t*"


def _worker_start_cameras(at: AppTest) -> set[str]:
    """Camera ids in the System page's "Worker starts" chart (its Arrow dataset)."""
    (chart,) = [c for c in at.get("vega_lite_chart") if "Worker starts" in c.proto.spec]
    frames = [pa.ipc.open_stream(d.data.data).read_all() for d in chart.proto.datasets]
    return {str(cid) for frame in frames for cid in frame.column("camera_id").to_pylist()}


def _system_and_events(board: Dashboard, name: str) -> tuple[AppTest, AppTest]:
    log = board.data_dir / "logs" / "manager.log"
    log.parent.mkdir(exist_ok=True)
    log.write_text(
        f"INFO started worker cam-a\nERROR cam-b: cannot open source\n"
        f"INFO watching {board.config_path}\n"
    )
    system = sign_in(board.app().run(), name).switch_page("pages/system.py").run()
    events = sign_in(board.app().run(), name).switch_page("pages/events.py").run()
    assert not system.exception and not events.exception, (system.exception, events.exception)
    return system, events


def test_site_limited_operator_sees_no_other_sites_cameras(remote_dash: Dashboard) -> None:
    system, events = _system_and_events(remote_dash, "otto")  # limited to lobby
    assert _worker_start_cameras(system) == {"cam-a"}
    # the raw log covers every site: not shown at all, rather than filtered line by line
    assert not system.code
    assert "cam-b" not in "\n".join(c.value for c in system.caption)
    assert events.multiselect(key="ev_cams").options == ["cam-a"]
    assert events.multiselect(key="ev_sites").options == ["lobby"]


def test_admin_of_all_sites_sees_every_camera_and_the_log(remote_dash: Dashboard) -> None:
    """The other side of the test above: the hidden cameras exist in what it reads."""
    system, events = _system_and_events(remote_dash, "ada")
    assert _worker_start_cameras(system) == {"cam-a", "cam-b"}
    (log,) = system.code
    assert "cam-b" in log.value and str(remote_dash.config_path) in log.value
    assert events.multiselect(key="ev_cams").options == ["cam-a", "cam-b"]


def test_a_site_limited_admin_does_not_read_the_manager_log(remote_dash: Dashboard) -> None:
    UserStore(remote_dash.data_dir).add("lia", PASSWORD, "admin", ["lobby"])
    system, events = _system_and_events(remote_dash, "lia")
    assert not system.code
    assert _worker_start_cameras(system) == {"cam-a"}
    assert events.multiselect(key="ev_cams").options == ["cam-a"]


def test_config_problems_are_told_to_a_site_limited_user_without_other_sites_detail(
    remote_dash: Dashboard,
) -> None:
    """The file's error can name another site's camera; the site's operator is only told
    that there is one (their own cameras' cards show their own errors)."""
    config = remote_dash.config_path
    home = {name: sign_in(remote_dash.app().run(), name) for name in ("otto", "ada")}
    assert not any(str(config) in shown(c.value) for c in home["otto"].sidebar.caption)
    assert any(str(config) in shown(c.value) for c in home["ada"].sidebar.caption)
    operator = sign_in(remote_dash.app().run(), "otto").switch_page("pages/events.py").run()
    admin = sign_in(remote_dash.app().run(), "ada").switch_page("pages/events.py").run()
    config.write_text(config.read_text() + '\n[[cameras]]\nid = "cam-b"\nsource = "x.mp4"\n')
    operator.run()
    admin.run()
    assert not operator.exception and not admin.exception
    told = [e.value for e in operator.error]
    assert any("ask an administrator" in text for text in told), told
    assert not any("cam-b" in text for text in told), told
    assert any("duplicate camera id(s): cam-b" in shown(e.value) for e in admin.error)


def test_the_managers_rejection_is_told_to_a_site_limited_user_without_detail(
    remote_dash: Dashboard,
) -> None:
    assert remote_dash.live is not None
    remote_dash.live.table.set_header(config_error="camera 'cam-b': key 'source': bad")
    operator = sign_in(remote_dash.app().run(), "otto").switch_page("pages/live.py").run()
    admin = sign_in(remote_dash.app().run(), "ada").switch_page("pages/live.py").run()
    assert not operator.exception and not admin.exception
    told = [w.value for w in operator.warning] + [e.value for e in operator.error]
    assert CONFIG_PROBLEM_FOR_SITE_USERS in told and not any("cam-b" in t for t in told), told
    assert any("cam-b" in e.value for e in admin.error), [e.value for e in admin.error]


def test_a_site_limited_admin_sees_why_only_their_own_entries_are_rejected(
    remote_dash: Dashboard,
) -> None:
    UserStore(remote_dash.data_dir).add("lia", PASSWORD, "admin", ["lobby"])
    config = remote_dash.config_path
    config.write_text(
        config.read_text() + '\n[[cameras]]\nid = "cam-x"\nsite = "office"\n'
        'source = "rtmp://admin:hunter2@10.0.0.9/stream"\n'
        '\n[[cameras]]\nid = "cam-y"\nsite = "lobby"\n'
        'source = "rtmp://admin:hunter3@10.0.0.8/stream"\n'
    )
    for name, named, hidden in (("lia", {"cam-y"}, {"cam-x"}), ("ada", {"cam-x", "cam-y"}, set())):
        at = sign_in(remote_dash.app().run(), name).switch_page("pages/cameras.py").run()
        assert not at.exception, at.exception
        text = " ".join(shown(e.value) for e in at.error)
        assert all(f"entry {c} is rejected" in text for c in named), text
        assert not any(c in text for c in hidden), text
        assert "hunter" not in text, "passwords are never shown"


def test_an_action_on_a_broken_file_tells_a_site_limited_user_no_detail(
    remote_dash: Dashboard,
) -> None:
    lia = User("lia", "admin", ("lobby",))
    ctx = PageContext(
        loaded=load_config(remote_dash.config_path),
        user=lia,
        config_error="duplicate camera id(s): cam-b",
    )
    with pytest.raises(ConfigError) as refused:
        actions.set_enabled(ctx, "cam-a", False)
    assert "cam-b" not in str(refused.value) and "cannot be loaded" in str(refused.value)
    ada = PageContext(loaded=ctx.loaded, user=User("ada", "admin"), config_error=ctx.config_error)
    with pytest.raises(ConfigError, match="cam-b"):
        actions.set_enabled(ada, "cam-a", False)


@pytest.mark.parametrize("loopback", [False, True])
def test_before_sign_in_a_broken_file_is_not_explained_to_the_network(
    remote_dash: Dashboard, monkeypatch: pytest.MonkeyPatch, loopback: bool
) -> None:
    """No config ever loaded in this process: nobody is signed in, so a dashboard on a
    network address says where to look, not what the file holds."""
    remote_dash.config_path.write_text(
        '[[cameras]]\nid = "cam-b"\nsource = "x.mp4"\n[[cameras]]\nid = "cam-b"\nsource = "y.mp4"\n'
    )
    monkeypatch.setattr(session, "_last_good", {})  # as in a freshly started dashboard
    # AppTest has no browser, so no visitor is ever local there; the browser tests
    # check what makes one local
    monkeypatch.setattr(session, "_trusted_local_visitor", lambda: loopback)
    at = remote_dash.app().run()
    (error,) = [e.value for e in at.error]
    assert "cannot be loaded" in error and not at.text_input, "no login form"
    if loopback:
        assert "duplicate camera id(s): cam-b" in shown(error)
    else:
        assert "cashwatch check" in error and "cam-b" not in error, error


def test_events_waiting_for_review_are_those_of_the_users_sites(remote_dash: Dashboard) -> None:
    operator = sign_in(remote_dash.app().run(), "otto")
    assert any("1 event waiting for review" in h.value for h in operator.subheader), [
        h.value for h in operator.subheader
    ]
    admin = sign_in(remote_dash.app().run(), "ada")
    assert any("2 events waiting for review" in h.value for h in admin.subheader)
