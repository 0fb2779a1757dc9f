"""Each target's alert texts in its own language (`[[alerts]] language`, else the
dashboard's): the mail's subject and text, the webhook's `text`; the machine-readable
fields the same in every language."""

from __future__ import annotations

import json
import re
import time
from email import message_from_bytes, policy
from typing import Any

from cashwatch.alerts.senders.email import build_mail
from cashwatch.alerts.senders.webhook import webhook_body
from cashwatch.config.alerts import EmailTarget, WebhookTarget, with_language
from cashwatch.i18n import language
from tests.alerts.test_senders import make_alert

HANGUL = re.compile(r"[\uac00-\ud7a3]")
STARTED = 1_790_000_000.0


def mail_target(**fields: Any) -> EmailTarget:
    return EmailTarget.model_validate(
        {"name": "desk", "kind": "email", "smtp_host": "mail", "to": ["a@b.example"], **fields}
    )


def hook_target(**fields: Any) -> WebhookTarget:
    return WebhookTarget.model_validate(
        {"name": "hook", "kind": "webhook", "url": "https://hook.example/in", **fields}
    )


def test_a_korean_target_gets_its_mail_in_korean() -> None:
    mail = build_mail(mail_target(language="ko"), make_alert(), None)
    # what goes over the wire: the Korean subject encoded, and read back as it was
    sent = message_from_bytes(mail.as_bytes(), policy=policy.default)
    subject = str(sent["Subject"])
    text = sent.get_body().get_content()  # type: ignore[union-attr]
    assert subject.startswith("[CashWatch] 폭력 - Front desk (lobby), ")
    assert "오후" in subject or "오전" in subject  # the time as Korean writes it
    assert "이벤트: 폭력" in text and "카메라: Front desk (cam1)" in text
    assert "신뢰도: 87%" in text and "알림 ID: ev1:start" in text
    assert "What:" not in text and "Camera:" not in text
    # the machine-readable parts are the same in every language
    assert sent["X-CashWatch-Alert-Id"] == "ev1:start"
    assert language() == "en"  # the target's language ends with its mail


def test_a_korean_end_and_notice_name_the_type_in_korean() -> None:
    ko = mail_target(language="ko")
    end = build_mail(ko, make_alert("end"), None)
    assert str(end["Subject"]).startswith("[CashWatch] 폭력 종료 - Front desk (lobby), ")
    assert "이벤트: 폭력 (종료)" in end.get_content()
    notice = build_mail(ko, make_alert("notice", event_type="cash_unmatched"), None)
    assert "판매 기록 없는 현금 전달" in str(notice["Subject"])
    probe = build_mail(ko, make_alert("test", event_type="test", site=""), None)
    assert str(probe["Subject"]).startswith("[CashWatch] 테스트 알림 - Front desk, ")
    assert "CashWatch에서 보낸 테스트 알림입니다" in probe.get_content()


def test_a_korean_webhook_gets_a_korean_text_and_the_same_fields() -> None:
    alert = make_alert()
    korean = json.loads(webhook_body(hook_target(language="ko"), alert, None))
    english = json.loads(webhook_body(hook_target(), alert, None))
    assert korean["text"].startswith("폭력 - Front desk (lobby), ")
    assert HANGUL.search(korean["text"].split(", ", 1)[1])  # the time in Korean too
    # only the text for people differs: ids, types and ISO times are data
    assert {k: v for k, v in korean.items() if k != "text"} == {
        k: v for k, v in english.items() if k != "text"
    }
    assert korean["event_type"] == "violence" and korean["started_at"] == english["started_at"]


def test_an_english_target_is_unchanged() -> None:
    when = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(STARTED))
    mail = build_mail(mail_target(language="en"), make_alert(), None)
    assert mail["Subject"] == f"[CashWatch] Violence at Front desk (lobby), {when}"
    text = mail.get_content()
    assert text.startswith("What: Violence\nCamera: Front desk (cam1)\nSite: lobby\nStarted: ")
    assert "Confidence: 87%\n" in text and text.endswith("Alert id: ev1:start\n")
    assert not HANGUL.search(text)
    body = json.loads(webhook_body(hook_target(), make_alert(), None))
    assert body["text"] == f"Violence at Front desk (lobby), {when}"


def test_a_target_naming_no_language_takes_the_dashboards() -> None:
    target = mail_target()
    assert target.language is None
    assert with_language(target, "ko").language == "ko"
    assert with_language(mail_target(language="en"), "ko").language == "en"
    mail = build_mail(with_language(target, "ko"), make_alert(), None)
    assert str(mail["Subject"]).startswith("[CashWatch] 폭력 - ")
    # without one filled in (nothing resolved it): English
    assert build_mail(target, make_alert(), None)["Subject"].startswith("[CashWatch] Violence")
