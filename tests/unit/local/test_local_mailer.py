"""OutboxMailer writes a readable multipart email per message."""

from __future__ import annotations

import email
import socket

import pytest

from shared.adapters.local import OutboxMailer, SmtpSettings
from shared.errors import TransientError
from shared.ports import Email

MESSAGE = Email(
    to="a@example.com", subject="Your 3D model is ready", text="plain body", html="<p>html body</p>"
)


def test_each_email_is_an_eml_file_with_text_and_html_alternatives(tmp_path):
    mailer = OutboxMailer(tmp_path / "outbox")
    message_id = mailer.send(MESSAGE)
    (path,) = (tmp_path / "outbox").glob("*.eml")
    parsed = email.message_from_bytes(path.read_bytes())
    assert parsed["To"] == "a@example.com"
    assert parsed["Subject"] == "Your 3D model is ready"
    assert message_id in parsed["Message-ID"]
    assert parsed.get_content_type() == "multipart/alternative"
    parts = {
        part.get_content_type(): part.get_payload(decode=True).decode()
        for part in parsed.walk()
        if not part.is_multipart()
    }
    assert "plain body" in parts["text/plain"]
    assert "<p>html body</p>" in parts["text/html"]


def test_two_sends_are_two_messages(tmp_path):
    mailer = OutboxMailer(tmp_path)
    assert mailer.send(MESSAGE) != mailer.send(MESSAGE)
    assert len(list(tmp_path.glob("*.eml"))) == 2


def test_an_unreachable_smtp_server_is_a_transient_error_after_the_outbox_copy(tmp_path):
    with socket.socket() as probe:  # a port with nothing listening
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    mailer = OutboxMailer(
        tmp_path, smtp=SmtpSettings(host="127.0.0.1", port=port, starttls=False, timeout_s=2)
    )
    with pytest.raises(TransientError):
        mailer.send(MESSAGE)
    assert len(list(tmp_path.glob("*.eml"))) == 1
