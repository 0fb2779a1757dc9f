"""`[[alerts]]` entries: validated one by one, secrets never shown."""

from __future__ import annotations

from pathlib import Path

import pytest

from cashwatch.config import parse_config
from cashwatch.config.alerts import MissingSecret

GOOD = """
[[alerts]]
name = "hook"
kind = "webhook"
url = "https://hooks.example/abc?token=s3cret-token"
secret = "signing-s3cret"
types = ["violence", "camera_down"]

[[alerts]]
name = "mail"
kind = "email"
smtp_host = "127.0.0.1"
to = ["manager@hotel.example"]
password_env = "CW_TEST_SMTP_PASSWORD"
"""


def test_a_broken_target_is_left_out_and_the_others_load(tmp_path: Path) -> None:
    text = (
        GOOD
        + """
[[alerts]]
name = "broken"
kind = "mqtt"
host = "127.0.0.1"
password = "mqtt-s3cret"
types = ["violence", "smoke"]

[[alerts]]
name = "sms"
kind = "sms"

[[alerts]]
name = "typo"
kind = "webhook"
url = "http://127.0.0.1:1/x"
secret_env = "hunter2-typed-here"

[[alerts]]
name = "hook"
kind = "webhook"
url = "http://127.0.0.1:1/other"
"""
    )
    loaded = parse_config(text, tmp_path / "cashwatch.toml")
    assert [t.name for t in loaded.app.alerts] == ["hook", "mail"]
    errors = loaded.alert_errors
    assert "unknown alert type(s) 'smoke'" in errors["broken"]
    valid = "valid: cash, violence, fire, till_exception, camera_down, cash_unmatched"
    assert valid in errors["broken"]
    assert "must be one of webhook, mqtt, email" in errors["sms"]
    assert "every name must be unique" in errors["hook (#6)"]
    assert "name of an environment variable" in errors["typo"]
    shown = repr(loaded) + " ".join(errors.values())
    for secret in ("s3cret-token", "signing-s3cret", "mqtt-s3cret", "hunter2"):
        assert secret not in shown


def test_a_secret_from_the_environment_names_the_missing_variable(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    mail = parse_config(GOOD, tmp_path / "cashwatch.toml").app.alerts[1]
    monkeypatch.delenv("CW_TEST_SMTP_PASSWORD", raising=False)
    with pytest.raises(MissingSecret, match="CW_TEST_SMTP_PASSWORD, which is not set"):
        mail.secret_password()  # type: ignore[union-attr]
    monkeypatch.setenv("CW_TEST_SMTP_PASSWORD", "pw")
    assert mail.secret_password() == "pw"  # type: ignore[union-attr]


def test_a_bad_public_url_is_refused(tmp_path: Path) -> None:
    with pytest.raises(Exception, match=r"public_url 'cctv\.example' must start with http"):
        parse_config('[dashboard]\npublic_url = "cctv.example"\n', tmp_path / "c.toml")
