"""E-mail alerts: one mail per alert over SMTP, the snapshot attached.

The Message-ID is made from the alert id, so a mail sent twice (a retry after a
lost answer) carries the same Message-ID and mail clients and servers can drop it.
"""

from __future__ import annotations

import hashlib
import re
import smtplib
import ssl
from email.message import EmailMessage
from email.utils import formatdate

from cashwatch.alerts.message import Alert, iso, type_label
from cashwatch.alerts.senders.base import SendError
from cashwatch.config.alerts import EmailTarget, MissingSecret
from cashwatch.i18n import DEFAULT, _, speaking

SUBJECT_PREFIX = "[CashWatch] "
# what RFC 5322 allows on the left of a Message-ID's @ (dot-atom text)
_NOT_ATEXT = re.compile(r"[^A-Za-z0-9!#$%&'*+/=?^_`{|}~.-]+")


def message_id(alert_id: str, sender: str) -> str:
    """The Message-ID of an alert's mail: the same for every send of that alert.

    Args:
        alert_id: The alert's id (`<event_id>:<phase>`).
        sender: The From address; its domain is the Message-ID's.

    Returns:
        `<readable-id.hash@domain>`: the id with characters a Message-ID cannot hold
        replaced, plus a short hash of the exact id so two ids never collide.
    """
    readable = _NOT_ATEXT.sub(".", alert_id).strip(".")[:64] or "alert"
    digest = hashlib.sha256(alert_id.encode("utf-8")).hexdigest()[:12]
    domain = sender.rpartition("@")[2] or "cashwatch"
    return f"<{readable}.{digest}@{domain}>"


def mail_text(alert: Alert) -> str:
    """The plain-text body: what, where, when, how sure, the link and the alert id.

    Written in the language in effect (`build_mail` sets the target's); the times stay
    ISO 8601 with their offset, exact wherever the mail is read.

    Args:
        alert: The alert.

    Returns:
        The body, one fact a line.
    """
    what = type_label(alert.event_type)
    if alert.phase == "end":
        what = _("{what} (ended)").format(what=what)
    lines = [_("What: {what}").format(what=what)]
    if alert.phase == "test":
        lines = [_("This is a test alert from CashWatch: this target works.")]
    camera = alert.camera_name or alert.camera_id
    if alert.camera_name and alert.camera_name != alert.camera_id:
        camera += f" ({alert.camera_id})"
    lines.append(_("Camera: {camera}").format(camera=camera))
    if alert.site:
        lines.append(_("Site: {site}").format(site=alert.site))
    lines.append(_("Started: {time}").format(time=iso(alert.started_at)))
    if alert.ended_at is not None:
        lines.append(_("Ended: {time}").format(time=iso(alert.ended_at)))
    if alert.confidence is not None:
        lines.append(_("Confidence: {percent}").format(percent=f"{alert.confidence:.0%}"))
    if alert.link:
        lines.append(_("Link: {link}").format(link=alert.link))
    lines.append(_("Alert id: {alert_id}").format(alert_id=alert.alert_id))
    return "\n".join(lines) + "\n"


def build_mail(target: EmailTarget, alert: Alert, snapshot: bytes | None) -> EmailMessage:
    """The mail for an alert, its subject and text in the target's language.

    Args:
        target: Sender, recipients and language (`language`; none: English, unless
            the manager filled in `[dashboard] language`, `with_language`).
        alert: The alert.
        snapshot: The snapshot JPEG, attached as `snapshot.jpg` when given.

    Returns:
        The message, ready for `smtplib.SMTP.send_message`.
    """
    with speaking(target.language or DEFAULT):
        subject = SUBJECT_PREFIX + alert.title
        text = mail_text(alert)
    mail = EmailMessage()
    mail["Subject"] = subject
    mail["From"] = target.sender
    mail["To"] = ", ".join(target.to)
    mail["Date"] = formatdate(localtime=True)
    mail["Message-ID"] = message_id(alert.alert_id, target.sender)
    mail["X-CashWatch-Alert-Id"] = alert.alert_id
    mail.set_content(text)
    if snapshot is not None:
        mail.add_attachment(snapshot, maintype="image", subtype="jpeg", filename="snapshot.jpg")
    return mail


class EmailSender:
    """Sends each alert as one mail through the target's SMTP server.

    STARTTLS follows `starttls`: `auto` upgrades when the server offers it, `require`
    fails when it does not, `off` never upgrades. It logs in when `username` is set.

    Args:
        target: The `[[alerts]]` entry (kind "email").
    """

    def __init__(self, target: EmailTarget) -> None:
        self.name = target.name
        self._target = target
        self._where = f"{target.smtp_host}:{target.smtp_port}"

    def send(self, alert: Alert, snapshot: bytes | None) -> None:
        """Hand the alert's mail to the SMTP server; return once it accepted it.

        Args:
            alert: The alert.
            snapshot: The snapshot JPEG, if any.

        Raises:
            SendError: The server was unreachable, refused the mail or the login, or
                did not offer STARTTLS with `starttls = "require"`.
        """
        mail = build_mail(self._target, alert, snapshot)
        try:
            password = self._target.secret_password()
        except MissingSecret as error:
            raise SendError(str(error)) from None
        target = self._target
        try:
            with smtplib.SMTP(target.smtp_host, target.smtp_port, timeout=target.timeout_s) as smtp:
                self._secure(smtp)
                if target.username:
                    smtp.login(target.username, password or "")
                smtp.send_message(mail)
        except smtplib.SMTPAuthenticationError as error:
            raise SendError(f"SMTP {self._where} refused the login ({error.smtp_code})") from None
        except smtplib.SMTPResponseException as error:
            text = error.smtp_error
            if isinstance(text, bytes):
                text = text.decode("utf-8", "replace")
            text = text[:200]
            raise SendError(f"SMTP {self._where} answered {error.smtp_code} {text}") from None
        except smtplib.SMTPRecipientsRefused as error:
            refused = ", ".join(sorted(error.recipients))
            raise SendError(f"SMTP {self._where} refused the recipients {refused}") from None
        except TimeoutError:
            raise SendError(
                f"no answer from SMTP {self._where} within {target.timeout_s:g} s"
            ) from None
        except ConnectionRefusedError:
            raise SendError(f"connection refused by SMTP {self._where}") from None
        except (OSError, smtplib.SMTPException) as error:
            raise SendError(f"SMTP {self._where}: {type(error).__name__}: {error}") from None

    def close(self) -> None:
        """Nothing to release: each send has its own SMTP session."""

    def _secure(self, smtp: smtplib.SMTP) -> None:
        """STARTTLS as the target asks (after the first EHLO, which lists what is offered)."""
        mode = self._target.starttls
        if mode == "off":
            return
        smtp.ehlo()
        if not smtp.has_extn("starttls"):
            if mode == "require":
                raise SendError(
                    f"SMTP {self._where} does not offer STARTTLS, and starttls is 'require'"
                )
            if self._target.username is not None:
                # fail closed: a password goes over TLS, or (starttls = "off", the admin's
                # explicit choice) in the clear, never in the clear by default
                raise SendError(
                    f"SMTP {self._where} does not offer STARTTLS: the password is not sent "
                    'unencrypted (set starttls = "off" to allow it on a trusted network)'
                )
            return
        smtp.starttls(context=ssl.create_default_context())
        smtp.ehlo()
