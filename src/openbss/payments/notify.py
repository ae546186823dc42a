"""The notification port of dunning: an e-mail to the account's holder, through SMTP.

Configured by environment variables (docs/payments.md): ``OPENBSS_SMTP_HOST`` (unset: no
e-mail is sent, the reminder still happens as an event and is recorded as ``email:
"not configured"``), ``OPENBSS_SMTP_PORT`` (25), ``OPENBSS_SMTP_FROM``
(``billing@localhost``), ``OPENBSS_SMTP_STARTTLS`` (``false``), ``OPENBSS_SMTP_USER`` /
``OPENBSS_SMTP_PASSWORD``. Tests run a local SMTP sink (aiosmtpd).
"""

from __future__ import annotations

import os
import smtplib
from dataclasses import dataclass
from email.message import EmailMessage
from typing import Protocol


@dataclass(frozen=True)
class Mail:
    to: str
    subject: str
    text: str


class Notifier(Protocol):
    def send(self, mail: Mail) -> str: ...


class SmtpNotifier:
    """Sends through the SMTP server named by the environment; the outcome as a word:
    ``sent``, ``not configured``, or ``failed: <reason>`` (a reminder is never lost
    because the mail server is down: the event is published either way)."""

    def send(self, mail: Mail) -> str:
        host = os.environ.get("OPENBSS_SMTP_HOST")
        if not host:
            return "not configured"
        message = EmailMessage()
        message["From"] = os.environ.get("OPENBSS_SMTP_FROM", "billing@localhost")
        message["To"] = mail.to
        message["Subject"] = mail.subject
        message.set_content(mail.text)
        try:
            with smtplib.SMTP(host, int(os.environ.get("OPENBSS_SMTP_PORT", "25")),
                              timeout=10) as smtp:
                if os.environ.get("OPENBSS_SMTP_STARTTLS", "false").lower() == "true":
                    smtp.starttls()
                user = os.environ.get("OPENBSS_SMTP_USER")
                if user:
                    smtp.login(user, os.environ.get("OPENBSS_SMTP_PASSWORD", ""))
                smtp.send_message(message)
        except (OSError, smtplib.SMTPException) as exc:
            return f"failed: {type(exc).__name__}"
        return "sent"


notifier: Notifier = SmtpNotifier()
