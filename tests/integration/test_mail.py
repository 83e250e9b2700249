"""The mail outbox against a real SMTP server (aiosmtpd): queued with the change, sent once,
retried with backoff while the server is down, given up on loudly, never sent twice."""

from __future__ import annotations

import asyncio
import email
import email.policy
import socket
import threading
from collections import Counter
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from pathlib import Path

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword
from tortoise.transactions import in_transaction

from domain import mail
from domain.enums import EmailStatus
from domain.mail import DeliveryReport, FileSender, SmtpSender
from domain.models import ActivityLog, EmailOutbox

NOW = datetime(2026, 12, 1, 6, 0, tzinfo=UTC)
FROM = "Busbook <tickets@busbook.local>"
BASE = timedelta(seconds=30)


def free_port() -> int:
    # aiosmtpd's Controller(port=0) fails its own start-up check: pick a port first.
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Handler:
    """Collects what the server accepted; refuses RCPT to nobody@..."""

    def __init__(self) -> None:
        self.messages: list[EmailMessage] = []
        self.envelopes: list[tuple[str, list[str]]] = []
        self.lock = threading.Lock()

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if address.startswith("nobody@"):
            return "550 5.1.1 No such mailbox here"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        message = email.message_from_bytes(envelope.content, policy=email.policy.default)
        with self.lock:
            self.messages.append(message)  # type: ignore[arg-type]
            self.envelopes.append((envelope.mail_from, list(envelope.rcpt_tos)))
        return "250 Message accepted for delivery"


class Sink:
    """An SMTP server on a fixed port that can go down and come back."""

    def __init__(self, port: int, **smtp_options) -> None:
        self.port = port
        self.handler = Handler()
        self.options = smtp_options
        self.controller: Controller | None = None

    @property
    def url(self) -> str:
        return f"smtp://127.0.0.1:{self.port}"

    @property
    def messages(self) -> list[EmailMessage]:
        return self.handler.messages

    def by_message_id(self) -> Counter[str]:
        return Counter(str(m["Message-ID"]) for m in self.messages)

    def start(self) -> None:
        self.controller = Controller(
            self.handler, hostname="127.0.0.1", port=self.port, **self.options
        )
        self.controller.start()

    def stop(self) -> None:
        if self.controller is not None:
            self.controller.stop()
            self.controller = None


@pytest.fixture
def sink():
    server = Sink(free_port())
    server.start()
    yield server
    server.stop()


@pytest.fixture
def down():
    """A port nothing listens on (yet): start() brings the server up there."""
    server = Sink(free_port())
    yield server
    server.stop()


async def queue(n: int = 1, *, now: datetime = NOW, **fields) -> list[EmailOutbox]:
    rows = []
    for i in range(n):
        values = {
            "to": f"rider{i}@example.com",
            "subject": f"Your Busbook ticket {i}",
            "text": f"Ticket {i}: Mumbai to Pune, seat {i}.",
        } | fields
        rows.append(await mail.queue_email(now=now, **values))
    return rows


async def deliver(sender, now: datetime = NOW, **options) -> DeliveryReport:
    return await mail.deliver_due(sender, now=now, mail_from=FROM, **options)


# --------------------------------------------------------------------------- delivery


async def test_a_queued_mail_is_delivered_once(db, sink):
    (row,) = await queue(
        to="Priya Sharma <priya@example.com>",
        subject="Booking BB7K2 confirmed",
        text="Your seats L3, L4 are booked.",
        html="<p>Your seats <b>L3, L4</b> are booked.</p>",
    )
    sender = SmtpSender(sink.url)
    assert await deliver(sender) == DeliveryReport(sent=1)
    assert await deliver(sender) == DeliveryReport()
    assert await deliver(sender, NOW + timedelta(days=1)) == DeliveryReport()

    assert len(sink.messages) == 1
    message = sink.messages[0]
    assert sink.handler.envelopes == [("tickets@busbook.local", ["priya@example.com"])]
    assert message["Subject"] == "Booking BB7K2 confirmed"
    assert message["To"] == "Priya Sharma <priya@example.com>"
    assert message["From"] == FROM
    assert message["Message-ID"] == mail.message_id(row, FROM)
    assert message["Message-ID"].startswith(f"<outbox-{row.id}.")
    assert message["Date"].datetime == NOW
    assert message.get_body(("plain",)).get_content().strip() == "Your seats L3, L4 are booked."
    assert "<b>L3, L4</b>" in message.get_body(("html",)).get_content()

    await row.refresh_from_db()
    assert (row.status, row.attempts, row.sent_at, row.last_error) == (
        EmailStatus.SENT,
        1,
        NOW,
        "",
    )
    log = await ActivityLog.get(action="email.sent")
    assert (log.subject_type, log.subject_id) == ("EmailOutbox", str(row.id))
    assert log.data == {"to": "Priya Sharma <priya@example.com>", "attempts": 1}


async def test_a_text_only_mail_has_no_html_part(db, sink):
    await queue(text="Plain only.")
    await deliver(SmtpSender(sink.url))
    (message,) = sink.messages
    assert not message.is_multipart()
    assert message.get_content().strip() == "Plain only."


async def test_mail_queued_in_a_rolled_back_transaction_is_never_sent(db, sink):
    with pytest.raises(RuntimeError):
        async with in_transaction() as conn:
            await mail.queue_email(
                to="ghost@example.com", subject="Booked?", text="No.", now=NOW, using_db=conn
            )
            raise RuntimeError("the booking failed after queueing its mail")
    async with in_transaction() as conn:
        await mail.queue_email(
            to="real@example.com", subject="Booked", text="Yes.", now=NOW, using_db=conn
        )
    assert await deliver(SmtpSender(sink.url)) == DeliveryReport(sent=1)
    assert [m["To"] for m in sink.messages] == ["real@example.com"]
    assert await EmailOutbox.all().count() == 1


async def test_mail_is_not_sent_before_it_is_due(db, sink):
    await queue(now=NOW + timedelta(minutes=1))
    assert await deliver(SmtpSender(sink.url)) == DeliveryReport()
    assert await deliver(SmtpSender(sink.url), NOW + timedelta(minutes=1)) == DeliveryReport(sent=1)


# --------------------------------------------------------------------------- failures


async def test_smtp_down_retries_with_backoff_and_delivers_once_when_back(db, down):
    (row,) = await queue()
    sender = SmtpSender(down.url, timeout=2)

    assert await deliver(sender) == DeliveryReport(retried=1)
    await row.refresh_from_db()
    assert (row.status, row.attempts) == (EmailStatus.PENDING, 1)
    assert row.next_attempt_at == NOW + BASE
    assert "MailServerUnavailable" in row.last_error and str(down.port) in row.last_error

    # Not due again before the backoff is over.
    assert await deliver(sender, NOW + BASE - timedelta(seconds=1)) == DeliveryReport()

    second = NOW + BASE
    assert await deliver(sender, second) == DeliveryReport(retried=1)
    await row.refresh_from_db()
    assert (row.attempts, row.next_attempt_at) == (2, second + 2 * BASE)

    down.start()  # the server is back on the same port
    assert await deliver(sender, second + BASE) == DeliveryReport()  # still backing off
    back = second + 2 * BASE
    assert await deliver(sender, back) == DeliveryReport(sent=1)
    assert await deliver(sender, back + timedelta(hours=2)) == DeliveryReport()
    await row.refresh_from_db()
    assert (row.status, row.attempts, row.sent_at) == (EmailStatus.SENT, 3, back)
    assert down.by_message_id() == {mail.message_id(row, FROM): 1}


async def test_a_server_that_goes_away_defers_the_rest_of_the_batch(db, sink):
    rows = await queue(5)
    sink.stop()
    sender = SmtpSender(sink.url, timeout=2)
    # One mail finds the server down; the others are given back untried.
    assert await deliver(sender) == DeliveryReport(retried=1, deferred=4)
    await asyncio.gather(*(r.refresh_from_db() for r in rows))
    assert [r.attempts for r in rows] == [1, 0, 0, 0, 0]
    assert all(r.next_attempt_at == NOW + BASE for r in rows)
    sink.start()
    assert await deliver(sender, NOW + BASE) == DeliveryReport(sent=5)
    assert sum(sink.by_message_id().values()) == 5 == len(sink.by_message_id())


async def test_after_max_attempts_the_mail_is_failed_and_audited(db, down):
    (row,) = await queue()
    sender = SmtpSender(down.url, timeout=2)
    now = NOW
    for attempt in range(1, 4):
        report = await deliver(sender, now, max_attempts=3)
        await row.refresh_from_db()
        assert row.attempts == attempt
        if attempt < 3:
            assert report == DeliveryReport(retried=1)
            assert row.next_attempt_at == now + BASE * 2 ** (attempt - 1)
            now = row.next_attempt_at
    assert report == DeliveryReport(failed=1)
    assert row.status == EmailStatus.FAILED
    assert "MailServerUnavailable" in row.last_error
    assert await deliver(sender, now + timedelta(days=1), max_attempts=3) == DeliveryReport()

    log = await ActivityLog.get(action="email.failed")
    assert log.subject_id == str(row.id)
    assert log.data["attempts"] == 3 and "MailServerUnavailable" in log.data["error"]
    assert await ActivityLog.filter(action="email.sent").count() == 0
    assert [r.id for r in await mail.failed_emails()] == [row.id]
    assert await mail.outbox_counts() == {"pending": 0, "sent": 0, "failed": 1}


async def test_a_refused_recipient_fails_at_once_without_retries(db, sink):
    bad, good = await queue(2, to="nobody@example.com")
    await EmailOutbox.filter(id=good.id).update(to_address="somebody@example.com")
    assert await deliver(SmtpSender(sink.url)) == DeliveryReport(sent=1, failed=1)
    await bad.refresh_from_db()
    assert (bad.status, bad.attempts) == (EmailStatus.FAILED, 1)
    assert "550" in bad.last_error and "No such mailbox" in bad.last_error
    assert await ActivityLog.filter(action="email.failed", subject_id=str(bad.id)).count() == 1
    assert [m["To"] for m in sink.messages] == ["somebody@example.com"]


async def test_backoff_doubles_and_is_capped():
    assert [mail.backoff(n, BASE) for n in (1, 2, 3, 4)] == [BASE * k for k in (1, 2, 4, 8)]
    assert mail.backoff(8, BASE) == timedelta(hours=1)
    assert mail.backoff(500, BASE, timedelta(hours=6)) == timedelta(hours=6)


async def test_an_admin_can_send_a_failed_mail_again(db, sink):
    (row,) = await queue(to="nobody@example.com")
    await deliver(SmtpSender(sink.url))
    await EmailOutbox.filter(id=row.id).update(to_address="fixed@example.com")
    later = NOW + timedelta(hours=1)
    requeued = await mail.requeue_email(row.id, now=later)
    assert (requeued.status, requeued.attempts, requeued.next_attempt_at) == (
        EmailStatus.PENDING,
        0,
        later,
    )
    assert await ActivityLog.filter(action="email.requeued").count() == 1
    assert await deliver(SmtpSender(sink.url), later) == DeliveryReport(sent=1)
    # A mail that is not failed is left alone.
    assert (await mail.requeue_email(row.id, now=later)).status == EmailStatus.SENT
    assert await ActivityLog.filter(action="email.requeued").count() == 1


# --------------------------------------------------------------------------- no double send


async def test_concurrent_deliveries_send_each_mail_exactly_once(db, sink):
    rows = await queue(40)
    sender = SmtpSender(sink.url)
    reports = await asyncio.gather(*(deliver(sender, batch=3) for _ in range(3)))
    assert sum(r.sent for r in reports) == 40
    assert all(r.sent > 0 for r in reports)  # they really did share the work
    assert sum((r for r in reports), DeliveryReport()) == DeliveryReport(sent=40)
    counts = sink.by_message_id()
    assert set(counts) == {mail.message_id(r, FROM) for r in rows}
    assert set(counts.values()) == {1}
    assert await mail.outbox_counts() == {"pending": 0, "sent": 40, "failed": 0}
    assert await ActivityLog.filter(action="email.sent").count() == 40


class GatedSender:
    """Records each message and waits at `gate` while sending it."""

    def __init__(self) -> None:
        self.sent: list[str] = []
        self.entered = asyncio.Event()
        self.gate = asyncio.Event()

    async def send(self, message: EmailMessage) -> None:
        self.entered.set()
        await self.gate.wait()
        self.sent.append(str(message["Message-ID"]))


class RecordingSender:
    def __init__(self) -> None:
        self.sent: list[str] = []

    async def send(self, message: EmailMessage) -> None:
        self.sent.append(str(message["Message-ID"]))


async def test_a_mail_being_sent_is_leased_to_its_worker(db):
    (row,) = await queue()
    slow = GatedSender()
    first = asyncio.create_task(deliver(slow))
    await asyncio.wait_for(slow.entered.wait(), 5)
    other = RecordingSender()
    # While the first worker is talking to SMTP, no other worker sees the mail as due.
    assert await deliver(other) == DeliveryReport()
    assert await deliver(other, NOW + timedelta(minutes=9)) == DeliveryReport()
    slow.gate.set()
    assert await first == DeliveryReport(sent=1)
    assert other.sent == [] and slow.sent == [mail.message_id(row, FROM)]


async def test_a_crash_while_sending_resends_after_the_lease_with_the_same_message_id(db):
    (row,) = await queue()
    stuck = GatedSender()
    worker = asyncio.create_task(deliver(stuck, lease=timedelta(minutes=10)))
    await asyncio.wait_for(stuck.entered.wait(), 5)
    worker.cancel()  # the process dies mid-send
    with pytest.raises(asyncio.CancelledError):
        await worker
    await row.refresh_from_db()
    assert (row.status, row.attempts) == (EmailStatus.PENDING, 1)

    again = RecordingSender()
    assert await deliver(again, NOW + timedelta(minutes=9)) == DeliveryReport()
    assert await deliver(again, NOW + timedelta(minutes=10)) == DeliveryReport(sent=1)
    assert again.sent == [mail.message_id(row, FROM)]
    await row.refresh_from_db()
    assert (row.status, row.attempts) == (EmailStatus.SENT, 2)


async def test_a_worker_whose_lease_ran_out_does_not_overwrite_the_new_owner(db):
    (row,) = await queue()
    slow = GatedSender()
    first = asyncio.create_task(deliver(slow, lease=timedelta(minutes=1)))
    await asyncio.wait_for(slow.entered.wait(), 5)
    other = RecordingSender()
    late = NOW + timedelta(minutes=1)
    assert await deliver(other, late) == DeliveryReport(sent=1)  # the lease ran out
    slow.gate.set()
    assert await first == DeliveryReport()  # already sent by the other: nothing to record
    await row.refresh_from_db()
    assert (row.status, row.sent_at, row.attempts) == (EmailStatus.SENT, late, 2)
    assert await ActivityLog.filter(action="email.sent").count() == 1


class SlowSender(RecordingSender):
    def __init__(self, seconds: float) -> None:
        super().__init__()
        self.seconds = seconds

    async def send(self, message: EmailMessage) -> None:
        await asyncio.sleep(self.seconds)
        await super().send(message)


async def test_no_send_starts_in_the_second_half_of_the_lease(db):
    rows = await queue(3)
    slow = SlowSender(0.6)
    # Half the lease is 1 s: mails 1 and 2 start in time, mail 3 would start at 1.2 s.
    report = await deliver(slow, lease=timedelta(seconds=2))
    assert report == DeliveryReport(sent=2, deferred=1)
    await rows[2].refresh_from_db()
    assert (rows[2].attempts, rows[2].next_attempt_at) == (0, NOW + BASE)


async def test_a_send_that_hangs_is_cut_off_before_the_lease_runs_out(db):
    rows = await queue(2)
    report = await deliver(SlowSender(3600), lease=timedelta(seconds=0.4))
    assert report == DeliveryReport(retried=1, deferred=1)
    await rows[0].refresh_from_db()
    assert "took longer than 0.2 s" in rows[0].last_error
    assert rows[0].next_attempt_at == NOW + BASE


# --------------------------------------------------------------------------- the worker


async def test_the_outbox_worker_keeps_delivering_and_survives_errors(db, sink, caplog):
    class FlakyOnce:
        def __init__(self, inner) -> None:
            self.inner, self.calls = inner, 0

        async def send(self, message: EmailMessage) -> None:
            self.calls += 1
            if self.calls == 1:
                raise RuntimeError("boom")
            await self.inner.send(message)

    await queue(2)
    stop = asyncio.Event()
    moments = iter(NOW + timedelta(minutes=i) for i in range(10_000))
    sender = FlakyOnce(SmtpSender(sink.url))
    worker = asyncio.create_task(
        mail.run_outbox_worker(
            sender, mail_from=FROM, clock=lambda: next(moments), interval=0.05, stop=stop
        )
    )
    for _ in range(100):
        if len(sink.messages) == 2:
            break
        await asyncio.sleep(0.05)
    await mail.queue_email(to="late@example.com", subject="Later", text="x", now=NOW)
    for _ in range(100):
        if len(sink.messages) == 3:
            break
        await asyncio.sleep(0.05)
    stop.set()
    await asyncio.wait_for(worker, 5)
    assert len(sink.by_message_id()) == 3 == len(sink.messages)
    assert "boom" in caplog.text


async def test_the_outbox_worker_logs_a_failed_run_and_goes_on(db, caplog):
    calls = 0

    def clock() -> datetime:
        nonlocal calls
        calls += 1
        if calls == 1:
            return datetime(2026, 12, 1, 6, 0)  # naive: deliver_due refuses it
        return NOW

    stop = asyncio.Event()
    worker = asyncio.create_task(
        mail.run_outbox_worker(
            RecordingSender(), mail_from=FROM, clock=clock, interval=0.01, stop=stop
        )
    )
    for _ in range(100):
        if calls >= 3:
            break
        await asyncio.sleep(0.01)
    stop.set()
    await asyncio.wait_for(worker, 5)
    assert calls >= 3
    assert "outbox run failed" in caplog.text


# --------------------------------------------------------------------------- senders


async def test_smtp_credentials_from_the_url_reach_the_server(db):
    logins: list[tuple[bytes, bytes]] = []

    def authenticator(server, session, envelope, mechanism, auth_data):
        assert isinstance(auth_data, LoginPassword)
        logins.append((auth_data.login, auth_data.password))
        return AuthResult(success=auth_data.password == b"p@ss:word", handled=False)

    server = Sink(free_port(), authenticator=authenticator, auth_require_tls=False)
    server.start()
    try:
        (row,) = await queue()
        wrong = SmtpSender(f"smtp://mailer:nope@127.0.0.1:{server.port}")
        assert await deliver(wrong) == DeliveryReport(retried=1)
        await row.refresh_from_db()
        assert "535" in row.last_error
        right = SmtpSender(f"smtp://mailer:p%40ss%3Aword@127.0.0.1:{server.port}")
        assert await deliver(right, NOW + BASE) == DeliveryReport(sent=1)
        assert (b"mailer", b"p@ss:word") in logins
        assert len(server.messages) == 1
    finally:
        server.stop()


def test_smtp_urls():
    plain = SmtpSender("smtp://mail.example.com")
    assert (plain.hostname, plain.port, plain.use_tls, plain.start_tls) == (
        "mail.example.com",
        25,
        False,
        False,
    )
    assert plain.username is None and plain.password is None
    tls = SmtpSender("smtps://user%40example.com:s%2Fcret@smtp.example.com")
    assert (tls.port, tls.use_tls, tls.username, tls.password) == (
        465,
        True,
        "user@example.com",
        "s/cret",
    )
    start = SmtpSender("smtp://u:p@smtp.example.com:2525?starttls=1", timeout=3)
    assert (start.port, start.use_tls, start.start_tls, start.timeout) == (2525, False, True, 3)
    assert SmtpSender("smtp://smtp.example.com?starttls=1").port == 587
    assert "p@" not in repr(start) and "smtp.example.com:2525" in repr(start)
    for bad in ("http://x", "smtp://", "smtps://h?starttls=1"):
        with pytest.raises(ValueError):
            SmtpSender(bad)


def test_sender_for(tmp_path: Path):
    development = mail.sender_for(None, tmp_path)
    assert isinstance(development, FileSender) and development.directory == tmp_path / "mail"
    assert isinstance(mail.sender_for("", tmp_path), FileSender)
    assert isinstance(mail.sender_for("smtp://localhost:1025", tmp_path), SmtpSender)


async def test_file_sender_writes_a_readable_eml(db, tmp_path: Path):
    (row,) = await queue(
        subject="Ticket BB7K2", text="Seat L3, Mumbai to Pune.", html="<p>Seat <b>L3</b></p>"
    )
    outbox = tmp_path / "mail"
    assert await deliver(FileSender(outbox)) == DeliveryReport(sent=1)
    (path,) = outbox.iterdir()
    assert path.suffix == ".eml" and f"-outbox-{row.id}" in path.name
    message = email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
    assert message["Subject"] == "Ticket BB7K2"
    assert message["To"] == "rider0@example.com"
    assert message["Message-ID"] == mail.message_id(row, FROM)
    assert message.get_body(("plain",)).get_content().strip() == "Seat L3, Mumbai to Pune."
    assert "<b>L3</b>" in message.get_body(("html",)).get_content()
    assert "Seat L3, Mumbai to Pune." in path.read_text()  # readable as plain text too


# --------------------------------------------------------------------------- queueing


async def test_queue_email_cleans_the_subject_and_refuses_bad_addresses(db):
    (row,) = await queue(subject="Line one\r\nBcc: victim@example.com " + "x" * 300)
    assert "\n" not in row.subject and len(row.subject) == 200 and row.subject.endswith("…")
    for bad in ("not-an-address", "a@example.com\nBcc: b@example.com", ""):
        with pytest.raises(ValueError):
            await mail.queue_email(to=bad, subject="s", text="t", now=NOW)
    with pytest.raises(ValueError):
        await mail.queue_email(
            to="a@example.com", subject="s", text="t", now=NOW.replace(tzinfo=None)
        )
    assert await EmailOutbox.all().count() == 1
    assert (row.status, row.attempts, row.next_attempt_at, row.created_at) == (
        EmailStatus.PENDING,
        0,
        NOW,
        NOW,
    )
