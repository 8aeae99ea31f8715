"""E-mail over SMTP. Subject and body are UTF-8: the subject as an RFC 2047 encoded word, the body as
text/plain; charset=utf-8, so Chinese arrives intact in any mail client."""
from __future__ import annotations

import smtplib
import ssl
from email.message import EmailMessage
from email.utils import formatdate, make_msgid

from services.notify.channels import DeliveryFailed, Outgoing


class EmailChannel:
    name = "email"

    def __init__(self, host: str, port: int = 25, sender: str = "noreply@doorstep.local", *, starttls: bool = False,
                 use_ssl: bool = False, username: str | None = None, password: str | None = None,
                 timeout_s: float = 10.0):
        self.host, self.port, self.sender = host, int(port), sender
        self.starttls, self.use_ssl = starttls, use_ssl
        self.username, self.password, self.timeout_s = username, password, float(timeout_s)

    @classmethod
    def from_settings(cls, options: dict) -> "EmailChannel":
        return cls(options.get("host", "127.0.0.1"), options.get("port", 25),
                   options.get("sender", "noreply@doorstep.local"), starttls=bool(options.get("starttls", False)),
                   use_ssl=bool(options.get("ssl", False)), username=options.get("username"),
                   password=options.get("password"), timeout_s=options.get("timeout_s", 10.0))

    def build(self, outgoing: Outgoing) -> EmailMessage:
        message = EmailMessage()
        message["From"] = self.sender
        message["To"] = outgoing.address
        message["Subject"] = outgoing.rendered.subject
        message["Date"] = formatdate(localtime=False)
        message["Message-ID"] = make_msgid(domain="doorstep.local")
        # The receiver can tie the mail back to the delivery without any personal data.
        message["X-Doorstep-Delivery"] = outgoing.delivery_id
        message.set_content(outgoing.rendered.body, charset="utf-8")
        return message

    def send(self, outgoing: Outgoing) -> None:
        if not outgoing.address:
            raise DeliveryFailed("no e-mail address registered", permanent=True)
        message = self.build(outgoing)
        try:
            if self.use_ssl:
                smtp = smtplib.SMTP_SSL(self.host, self.port, timeout=self.timeout_s,
                                        context=ssl.create_default_context())
            else:
                smtp = smtplib.SMTP(self.host, self.port, timeout=self.timeout_s)
            with smtp:
                if self.starttls:
                    smtp.starttls(context=ssl.create_default_context())
                if self.username:
                    smtp.login(self.username, self.password or "")
                smtp.send_message(message)
        except smtplib.SMTPRecipientsRefused as exc:
            codes = [code for code, _ in exc.recipients.values()]
            raise DeliveryFailed(f"SMTP refused the recipient ({codes})",
                                 permanent=all(code >= 500 for code in codes)) from None
        except smtplib.SMTPResponseException as exc:
            raise DeliveryFailed(f"SMTP {exc.smtp_code}: {exc.smtp_error!r}"[:300],
                                 permanent=exc.smtp_code >= 500) from None
        except (smtplib.SMTPException, OSError) as exc:
            raise DeliveryFailed(f"SMTP server unreachable: {type(exc).__name__}: {exc}"[:300]) from None
