"""Outgoing mail through a transactional outbox.

`queue_email` writes a pending `EmailOutbox` row inside the caller's transaction, so a mail
exists if and only if the change that caused it commits. `deliver_due` sends what is due;
any number of processes may run it at once.

No message is sent twice, because a row is *leased* before it is sent:

1. claim: in a short transaction, take due rows with `FOR UPDATE SKIP LOCKED`, count the
   attempt and push `next_attempt_at` to `now + lease`, commit. Other workers skip the
   locked rows while the claim runs and no longer see them as due once it has committed;
2. send, outside any transaction (no lock or connection is held while SMTP talks);
3. settle, in one transaction with its audit row: `sent`, or the error plus the next try
   (exponential backoff), or `failed` after `max_attempts`.

The one window left is a crash (or lost database) after the SMTP server accepted a message
and before step 3 committed: the lease runs out and the mail goes again, with the same
Message-ID (derived from the outbox id), so mail clients and people can recognise it. A
send starts only in the first half of its lease and is cut off after the second half, so a
slow server cannot make a lease run out under a message that is still being sent.
"""

from __future__ import annotations

import asyncio
import contextlib
import email.policy
import logging
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from email.message import EmailMessage
from email.utils import format_datetime, parseaddr
from pathlib import Path
from typing import Protocol
from urllib.parse import parse_qs, unquote, urlsplit

import aiosmtplib
from tortoise.backends.base.client import BaseDBAsyncClient
from tortoise.expressions import F
from tortoise.functions import Count
from tortoise.transactions import in_transaction

from domain import audit, locking
from domain import clock as wall_clock
from domain.enums import EmailStatus
from domain.errors import NotFound
from domain.models import EmailOutbox, User

log = logging.getLogger(__name__)

SUBJECT_MAX = 200  # EmailOutbox.subject's max_length
_OUTBOX_ID = re.compile(r"outbox-(\d+)")


def _require_aware(now: datetime) -> None:
    if now.tzinfo is None or now.utcoffset() is None:
        raise ValueError("now must be a timezone-aware datetime (UTC)")


# --------------------------------------------------------------------------- queueing


async def queue_email(
    *,
    to: str,
    subject: str,
    text: str,
    html: str = "",
    now: datetime,
    using_db: BaseDBAsyncClient | None = None,
) -> EmailOutbox:
    """Queue a mail for delivery. Pass the connection of the transaction that makes the
    change the mail is about: the mail is then sent if and only if that change commits."""
    _require_aware(now)
    to = to.strip()
    address = parseaddr(to)[1]
    if "\n" in to or "\r" in to or "@" not in address:
        raise ValueError(f"not an email address: {to!r}")
    subject = " ".join(subject.split())  # no line breaks in a header
    if len(subject) > SUBJECT_MAX:
        subject = subject[: SUBJECT_MAX - 1] + "…"
    return await EmailOutbox.create(
        to_address=to,
        subject=subject,
        body_text=text,
        body_html=html,
        status=EmailStatus.PENDING,
        attempts=0,
        next_attempt_at=now,
        last_error="",
        created_at=now,
        using_db=using_db,
    )


# --------------------------------------------------------------------------- messages


def _mail_domain(mail_from: str) -> str:
    domain = parseaddr(mail_from)[1].rpartition("@")[2]
    return re.sub(r"[^A-Za-z0-9.-]", "", domain) or "busbook"


def message_id(row: EmailOutbox, mail_from: str) -> str:
    """Stable for one outbox row, so a re-send is recognisably the same mail. The creation
    second keeps ids unique when a database is recreated and its ids start again at 1."""
    return f"<outbox-{row.id}.{int(row.created_at.timestamp())}@{_mail_domain(mail_from)}>"


def build_message(row: EmailOutbox, mail_from: str) -> EmailMessage:
    message = EmailMessage()
    message["From"] = mail_from
    message["To"] = row.to_address
    message["Subject"] = row.subject
    message["Date"] = format_datetime(row.created_at)
    message["Message-ID"] = message_id(row, mail_from)
    message.set_content(row.body_text)
    if row.body_html:
        message.add_alternative(row.body_html, subtype="html")
    return message


# --------------------------------------------------------------------------- senders


class MailError(Exception):
    """This message could not be sent now; it is tried again later."""


class PermanentMailError(MailError):
    """The server refused this message for good (e.g. 550 no such mailbox): no retries."""


class MailServerUnavailable(MailError):
    """The server cannot be reached or refuses us (connection, TLS, login, sender):
    every message would fail the same way, so the rest of the batch waits."""


class MailSender(Protocol):
    async def send(self, message: EmailMessage) -> None: ...


class SmtpSender:
    """Sends through an SMTP server named by a URL:

    `smtp://host:port`, `smtp://user:pass@host:port` (percent-encode special characters),
    `smtps://...` for implicit TLS (port 465 by default) and `?starttls=1` for STARTTLS
    (port 587 by default); plain `smtp://` defaults to port 25.
    """

    def __init__(self, url: str, *, timeout: float = 10) -> None:
        parts = urlsplit(url)
        if parts.scheme not in {"smtp", "smtps"}:
            raise ValueError("SMTP_URL must start with smtp:// or smtps://")
        if not parts.hostname:
            raise ValueError("SMTP_URL names no host")
        query = {key: values[-1] for key, values in parse_qs(parts.query).items()}
        self.hostname: str = parts.hostname
        self.use_tls = parts.scheme == "smtps"
        self.start_tls = query.get("starttls", "").lower() in {"1", "true", "yes", "on"}
        if self.use_tls and self.start_tls:
            raise ValueError("SMTP_URL: smtps:// already uses TLS; drop ?starttls=1")
        self.port: int = parts.port or (465 if self.use_tls else 587 if self.start_tls else 25)
        self.username = unquote(parts.username) if parts.username else None
        self.password = unquote(parts.password) if parts.password is not None else None
        self.timeout = timeout

    def __repr__(self) -> str:  # never the password
        scheme = "smtps" if self.use_tls else "smtp"
        user = f"{self.username}@" if self.username else ""
        tls = "?starttls=1" if self.start_tls else ""
        return f"SmtpSender({scheme}://{user}{self.hostname}:{self.port}{tls})"

    async def send(self, message: EmailMessage) -> None:
        try:
            await aiosmtplib.send(
                message,
                hostname=self.hostname,
                port=self.port,
                username=self.username,
                password=self.password,
                use_tls=self.use_tls,
                start_tls=self.start_tls,
                timeout=self.timeout,
            )
        except aiosmtplib.SMTPRecipientsRefused as exc:
            codes = [r.code for r in exc.recipients]
            detail = "; ".join(f"{r.code} {r.message} ({r.recipient})" for r in exc.recipients)
            if codes and all(code >= 500 for code in codes):
                raise PermanentMailError(f"recipient refused: {detail}") from exc
            raise MailError(f"recipient deferred: {detail}") from exc
        except (aiosmtplib.SMTPRecipientRefused, aiosmtplib.SMTPDataError) as exc:
            error = PermanentMailError if exc.code >= 500 else MailError
            raise error(f"{exc.code} {exc.message}") from exc
        except (
            aiosmtplib.SMTPAuthenticationError,
            aiosmtplib.SMTPSenderRefused,
            aiosmtplib.SMTPHeloError,
        ) as exc:
            raise MailServerUnavailable(f"{exc.code} {exc.message}") from exc
        except aiosmtplib.SMTPResponseException as exc:
            raise MailError(f"{exc.code} {exc.message}") from exc
        except (
            aiosmtplib.SMTPConnectError,
            aiosmtplib.SMTPServerDisconnected,
            aiosmtplib.SMTPNotSupported,  # e.g. no STARTTLS or AUTH where the URL asks for it
        ) as exc:
            raise MailServerUnavailable(
                f"{self.hostname}:{self.port}: {exc.message or type(exc).__name__}"
            ) from exc
        except (OSError, TimeoutError) as exc:
            # TLS failures, DNS, timeouts (aiosmtplib's own timeouts are TimeoutErrors).
            raise MailServerUnavailable(
                f"{self.hostname}:{self.port}: {exc or type(exc).__name__}"
            ) from exc
        except aiosmtplib.SMTPException as exc:
            raise MailError(exc.message) from exc


class FileSender:
    """Writes each message as an .eml file (development, when SMTP_URL is unset). Open one
    with any mail client, or read it: it is plain text."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory

    def __repr__(self) -> str:
        return f"FileSender({str(self.directory)!r})"

    def _write(self, message: EmailMessage) -> Path:
        self.directory.mkdir(parents=True, exist_ok=True)
        match = _OUTBOX_ID.search(message.get("Message-ID", ""))
        name = f"outbox-{match.group(1)}" if match else "message"
        stamp = wall_clock.now().strftime("%Y%m%dT%H%M%S%fZ")
        path = self.directory / f"{stamp}-{name}.eml"
        suffix = 1
        while path.exists():
            suffix += 1
            path = self.directory / f"{stamp}-{name}-{suffix}.eml"
        partial = path.with_suffix(".eml.part")
        partial.write_bytes(message.as_bytes(policy=email.policy.default))
        partial.replace(path)  # readers never see half a file
        return path

    async def send(self, message: EmailMessage) -> None:
        await asyncio.to_thread(self._write, message)


def sender_for(smtp_url: str | None, var_dir: Path) -> MailSender:
    """SMTP when SMTP_URL is set, otherwise .eml files under var/mail/."""
    if smtp_url:
        return SmtpSender(smtp_url)
    return FileSender(var_dir / "mail")


# --------------------------------------------------------------------------- delivery


@dataclass(frozen=True)
class DeliveryReport:
    sent: int = 0
    retried: int = 0  # failed this time, tried again later
    failed: int = 0  # given up (status failed)
    deferred: int = 0  # claimed but not tried: the server was unavailable

    @property
    def total(self) -> int:
        return self.sent + self.retried + self.failed + self.deferred

    def __add__(self, other: DeliveryReport) -> DeliveryReport:
        return DeliveryReport(
            self.sent + other.sent,
            self.retried + other.retried,
            self.failed + other.failed,
            self.deferred + other.deferred,
        )


def backoff(
    attempts: int, base_delay: timedelta, max_delay: timedelta = timedelta(hours=1)
) -> timedelta:
    """The wait after the `attempts`-th failed try: base, 2x, 4x, ... at most `max_delay`."""
    return min(base_delay * (1 << min(max(attempts - 1, 0), 30)), max_delay)


async def _claim(now: datetime, batch: int, lease: timedelta) -> list[EmailOutbox]:
    async with in_transaction() as conn:
        rows = (
            await EmailOutbox.filter(status=EmailStatus.PENDING, next_attempt_at__lte=now)
            .order_by("next_attempt_at", "id")
            .limit(batch)
            .select_for_update(skip_locked=True)
            .using_db(conn)
        )
        if rows:
            await (
                EmailOutbox.filter(id__in=[r.id for r in rows])
                .using_db(conn)
                .update(attempts=F("attempts") + 1, next_attempt_at=now + lease)
            )
    for row in rows:
        row.attempts += 1
    return rows


async def _settle(
    row: EmailOutbox,
    *,
    now: datetime,
    error: Exception | None,
    permanent: bool = False,
    release: bool = False,
    max_attempts: int,
    base_delay: timedelta,
    max_delay: timedelta,
) -> str:
    """Record how the claimed `row` went; returns what happened ("sent", "retried",
    "failed", "deferred" or "stale" when another worker has taken the row over)."""
    async with locking.transaction() as conn:
        current = await EmailOutbox.filter(id=row.id).select_for_update().using_db(conn).first()
        if current is None or current.status != EmailStatus.PENDING:
            return "stale"  # deleted, or another worker (after our lease ran out) settled it
        if error is None:
            current.status = EmailStatus.SENT
            current.sent_at = now
            current.last_error = ""
            await current.save(update_fields=["status", "sent_at", "last_error"], using_db=conn)
            await audit.record(
                "email.sent",
                now=now,
                subject=current,
                data={"to": current.to_address, "attempts": current.attempts},
                using_db=conn,
            )
            return "sent"
        if current.attempts != row.attempts:
            return "stale"  # our lease ran out and another worker claimed it again
        if release:
            current.attempts -= 1  # never tried: the try does not count
            current.next_attempt_at = now + base_delay
            await current.save(update_fields=["attempts", "next_attempt_at"], using_db=conn)
            return "deferred"
        message = f"{type(error).__name__}: {error}"[:2000]
        current.last_error = message
        if permanent or current.attempts >= max_attempts:
            current.status = EmailStatus.FAILED
            await current.save(update_fields=["status", "last_error"], using_db=conn)
            await audit.record(
                "email.failed",
                now=now,
                subject=current,
                data={"to": current.to_address, "attempts": current.attempts, "error": message},
                using_db=conn,
            )
            return "failed"
        current.next_attempt_at = now + backoff(current.attempts, base_delay, max_delay)
        await current.save(update_fields=["last_error", "next_attempt_at"], using_db=conn)
        return "retried"


async def deliver_due(
    sender: MailSender,
    *,
    now: datetime,
    mail_from: str,
    batch: int = 20,
    max_attempts: int = 6,
    base_delay: timedelta = timedelta(seconds=30),
    max_delay: timedelta = timedelta(hours=1),
    lease: timedelta = timedelta(minutes=10),
) -> DeliveryReport:
    """Send every mail that is due at `now`, `batch` rows per claim, until none is left
    or the server turns out to be unavailable. Safe to run in many processes at once."""
    _require_aware(now)
    if batch < 1 or max_attempts < 1:
        raise ValueError("batch and max_attempts must be at least 1")
    counts = {"sent": 0, "retried": 0, "failed": 0, "deferred": 0, "stale": 0}

    async def settle(row: EmailOutbox, error: Exception | None, *, release: bool = False) -> str:
        outcome = await _settle(
            row,
            now=now,
            error=error,
            permanent=isinstance(error, PermanentMailError),
            release=release,
            max_attempts=max_attempts,
            base_delay=base_delay,
            max_delay=max_delay,
        )
        counts[outcome] += 1
        return outcome

    # A send starts only in the first half of the lease and may take at most the other
    # half (monotonic time), so it is over before any other worker can see the row as due.
    half_lease = lease.total_seconds() / 2
    loop = asyncio.get_running_loop()
    unavailable = False
    while not unavailable:
        rows = await _claim(now, batch, lease)
        claimed_at = loop.time()
        for row in rows:
            if unavailable or loop.time() - claimed_at > half_lease:
                # The server is down, or this batch is slow: give the rest back untried.
                await settle(row, MailError("not tried"), release=True)
                continue
            error: Exception | None = None
            try:
                try:
                    async with asyncio.timeout(half_lease):
                        await sender.send(build_message(row, mail_from))
                except TimeoutError as exc:
                    raise MailServerUnavailable(
                        f"sending took longer than {half_lease:g} s (half the lease)"
                    ) from exc
            except Exception as exc:
                error = exc
                unavailable = isinstance(exc, MailServerUnavailable)
                log.warning(
                    "mail: outbox %s to %s, attempt %d failed: %s",
                    row.id,
                    row.to_address,
                    row.attempts,
                    exc,
                )
            if await settle(row, error) == "failed":
                log.error("mail: outbox %s to %s given up: %s", row.id, row.to_address, error)
        if len(rows) < batch:
            break
    return DeliveryReport(counts["sent"], counts["retried"], counts["failed"], counts["deferred"])


async def run_outbox_worker(
    sender: MailSender,
    *,
    mail_from: str,
    clock: Callable[[], datetime],
    interval: float = 2.0,
    stop: asyncio.Event | None = None,
    batch: int = 20,
    max_attempts: int = 6,
) -> None:
    """Deliver due mail every `interval` seconds until `stop` is set (or the task is
    cancelled), surviving any error. Every process may run one.

    Prefer setting `stop` to cancelling: a run in progress then finishes and settles its
    rows; a cancelled run leaves its claimed rows to be sent when their lease runs out."""
    log.info("mail: outbox worker started, sending with %r", sender)
    while stop is None or not stop.is_set():
        try:
            report = await deliver_due(
                sender, now=clock(), mail_from=mail_from, batch=batch, max_attempts=max_attempts
            )
            if report.total:
                log.info(
                    "mail: %d sent, %d to retry, %d failed, %d deferred",
                    report.sent,
                    report.retried,
                    report.failed,
                    report.deferred,
                )
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("mail: outbox run failed; trying again in %s s", interval)
        if stop is None:
            await asyncio.sleep(interval)
        else:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), interval)
    log.info("mail: outbox worker stopped")


# --------------------------------------------------------------------------- admin


async def failed_emails(limit: int = 50) -> list[EmailOutbox]:
    """Mails given up on, newest first."""
    return await EmailOutbox.filter(status=EmailStatus.FAILED).order_by("-id").limit(limit)


async def outbox_counts() -> dict[str, int]:
    """Rows per status, every status present: {"pending": 3, "sent": 120, "failed": 1}."""
    counts = {status.value: 0 for status in EmailStatus}
    rows = await EmailOutbox.annotate(n=Count("id")).group_by("status").values_list("status", "n")
    for status, n in rows:
        counts[str(status)] = int(n)
    return counts


async def requeue_email(email_id: int, *, now: datetime, actor: User | None = None) -> EmailOutbox:
    """An admin sends a failed mail again (after fixing the address or the server): it gets
    a fresh set of attempts. Other rows are returned unchanged."""
    _require_aware(now)
    async with locking.transaction() as conn:
        row = await EmailOutbox.filter(id=email_id).select_for_update().using_db(conn).first()
        if row is None:
            raise NotFound("We could not find that email.")
        if row.status != EmailStatus.FAILED:
            return row
        row.status = EmailStatus.PENDING
        row.attempts = 0
        row.next_attempt_at = now
        await row.save(update_fields=["status", "attempts", "next_attempt_at"], using_db=conn)
        await audit.record(
            "email.requeued",
            now=now,
            actor=actor,
            subject=row,
            data={"to": row.to_address, "last_error": row.last_error},
            using_db=conn,
        )
    return row
