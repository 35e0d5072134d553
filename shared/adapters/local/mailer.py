"""Email locally: every message is written to an outbox folder as an .eml file (open it in any
mail program), and also sent through SMTP when an SMTP server is configured."""

from __future__ import annotations

import smtplib
import ssl
from dataclasses import dataclass
from datetime import UTC, datetime
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid
from pathlib import Path

from shared.errors import TransientError
from shared.ports import Email


@dataclass(frozen=True)
class SmtpSettings:
    host: str
    port: int = 587
    username: str | None = None
    password: str | None = None
    starttls: bool = True
    timeout_s: float = 30.0


class OutboxMailer:
    def __init__(
        self, outbox: Path, sender: str = "Spaceport <spaceport@localhost>", smtp: SmtpSettings | None = None
    ):
        self.outbox = Path(outbox)
        self._sender = sender
        self._smtp = smtp

    def compose(self, email: Email) -> EmailMessage:
        message = EmailMessage()
        message["From"] = self._sender
        message["To"] = email.to
        message["Subject"] = email.subject
        message["Date"] = format_datetime(datetime.now(UTC))
        message["Message-ID"] = make_msgid(domain="spaceport.local")
        message.set_content(email.text)
        message.add_alternative(email.html, subtype="html")
        if email.inline_images:
            html_part = message.get_payload()[1]
            for image in email.inline_images:
                html_part.add_related(
                    image.data, maintype="image", subtype=image.subtype, cid=f"<{image.content_id}>",
                    filename=image.filename, disposition="inline",
                )  # fmt: skip
        return message

    def send(self, email: Email) -> str:
        message = self.compose(email)
        message_id = str(message["Message-ID"]).strip("<>")
        self.outbox.mkdir(parents=True, exist_ok=True)
        stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S%fZ")
        path = self.outbox / f"{stamp}-{message_id.split('@')[0]}.eml"
        tmp = path.with_suffix(".tmp")
        tmp.write_bytes(bytes(message))
        tmp.replace(path)
        if self._smtp is not None:
            self._deliver(message)
        return message_id

    def last_message_path(self) -> Path | None:
        found = sorted(self.outbox.glob("*.eml"))
        return found[-1] if found else None

    def _deliver(self, message: EmailMessage) -> None:
        smtp = self._smtp
        assert smtp is not None
        try:
            with smtplib.SMTP(smtp.host, smtp.port, timeout=smtp.timeout_s) as client:
                if smtp.starttls:
                    client.starttls(context=ssl.create_default_context())
                if smtp.username:
                    client.login(smtp.username, smtp.password or "")
                client.send_message(message)
        except (OSError, smtplib.SMTPServerDisconnected, smtplib.SMTPConnectError) as exc:
            raise TransientError(f"smtp {smtp.host}:{smtp.port}: {type(exc).__name__}") from exc
