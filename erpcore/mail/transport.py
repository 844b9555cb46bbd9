"""Talking to the SMTP server: the standard library's ``smtplib``, nothing more.

Called with no database transaction open. A failure is either *permanent*
(the server refused the recipient or the content for good: retrying cannot
help) or anything else, which is retried later. Error texts keep the SMTP
server's code and reply, never the password.
"""

from __future__ import annotations

import smtplib
import ssl
from email.message import EmailMessage
from functools import lru_cache

from erpcore.config import Config


class DeliveryError(Exception):
    """The message was not accepted; ``permanent`` when retrying cannot help."""

    def __init__(self, reason: str, permanent: bool = False):
        super().__init__(reason)
        self.permanent = permanent


def send(config: Config, message: EmailMessage, timeout: float) -> None:
    """Hand *message* to the configured SMTP server, or raise :class:`DeliveryError`."""
    try:
        _send(config, message, timeout)
    except smtplib.SMTPRecipientsRefused as exc:
        codes = [code for code, _reply in exc.recipients.values()]
        permanent = bool(codes) and all(500 <= code < 600 for code in codes)
        reason = "; ".join(f"{code} {_text(reply)}" for code, reply in exc.recipients.values())
        raise DeliveryError(f"recipient refused: {reason}", permanent) from None
    except smtplib.SMTPDataError as exc:
        raise DeliveryError(f"message refused: {exc.smtp_code} {_text(exc.smtp_error)}",
                            500 <= exc.smtp_code < 600) from None
    except smtplib.SMTPAuthenticationError as exc:
        raise DeliveryError(f"authentication refused: {exc.smtp_code} "
                            f"{_text(exc.smtp_error)}") from None
    except smtplib.SMTPResponseException as exc:
        raise DeliveryError(f"SMTP error {exc.smtp_code} {_text(exc.smtp_error)}") from None
    except (smtplib.SMTPException, OSError) as exc:
        raise DeliveryError(f"{exc.__class__.__name__}: {exc}"[:300]) from None


@lru_cache(maxsize=1)
def _tls_context() -> ssl.SSLContext:
    """The system's authorities, loaded once per process (loading them takes milliseconds)."""
    return ssl.create_default_context()


def _send(config: Config, message: EmailMessage, timeout: float) -> None:
    host, port = config.smtp_server, config.smtp_port
    if config.smtp_ssl == "ssl":
        client: smtplib.SMTP = smtplib.SMTP_SSL(host, port, timeout=timeout,
                                                context=_tls_context())
    else:
        client = smtplib.SMTP(host, port, timeout=timeout)
    with client:
        if config.smtp_ssl == "starttls":
            client.starttls(context=_tls_context())
        if config.smtp_user:
            client.login(config.smtp_user, config.smtp_password)
        client.send_message(message)


def _text(reply: bytes | str) -> str:
    text = reply.decode("utf-8", "replace") if isinstance(reply, bytes) else str(reply)
    return " ".join(text.split())[:200]
