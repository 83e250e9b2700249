"""Shared plumbing of the benchmarks: a PostgreSQL server and a fresh database, a real
Busbook server started the way `busbook serve --workers 2 --demo` starts it, customers
logged in over HTTP, the demo timetable, CPU accounting and percentiles.

Everything is local: HTTP goes to 127.0.0.1 only, the database is the embedded PostgreSQL
under var/bench (or BENCH_DATABASE_URL / TEST_DATABASE_URL when set), and every run
creates its own database and drops it at the end.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import os
import re
import resource
import secrets
import signal
import socket
import sys
import time
from collections.abc import AsyncIterator, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import asyncpg  # noqa: E402
import httpx  # noqa: E402

from domain import database  # noqa: E402

VAR = ROOT / "var" / "bench"
CSRF_RE = re.compile(r'name="csrf_token" value="([^"]+)"')
PASSWORD = "bench-pass-2026"
HOST = "127.0.0.1"


def log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


# ----------------------------------------------------------------------------- database


def server_url() -> tuple[str, str]:
    """The PostgreSQL server to create the bench database on, and where it came from."""
    for name in ("BENCH_DATABASE_URL", "TEST_DATABASE_URL"):
        url = os.environ.get(name)
        if url:
            return url, name
    # stop_at_exit: the embedded server stops when this process exits.
    return database.start_embedded(VAR, name="postgres"), f"embedded ({VAR / 'postgres'})"


@contextlib.asynccontextmanager
async def fresh_database(prefix: str) -> AsyncIterator[str]:
    """A new, empty database on the bench server; dropped on the way out, whatever happens."""
    server, origin = server_url()
    url = database.fresh_database_url(server, prefix=prefix)
    await database.create_database(url, if_missing=False)
    log(f"database {database.database_name(url)} on {origin}")
    try:
        yield url
    finally:
        with contextlib.suppress(Exception):
            await database.drop_database(url)
            log(f"dropped database {database.database_name(url)}")


def asyncpg_dsn(url: str) -> str:
    return database.asyncpg_dsn(url)


# ------------------------------------------------------------------------------ server


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        return int(sock.getsockname()[1])


def raise_nofile(wanted: int) -> tuple[int, int]:
    """Raise this process's RLIMIT_NOFILE soft limit (children inherit it)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = wanted if hard == resource.RLIM_INFINITY else min(wanted, hard)
    if soft < target:
        resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
    return resource.getrlimit(resource.RLIMIT_NOFILE)


@dataclass
class Server:
    process: asyncio.subprocess.Process
    base: str
    log_path: Path

    @property
    def pid(self) -> int:
        return self.process.pid


SECRET_KEY = "bench-secret-" + "z" * 40  # the server's (access tokens are signed with it)


@contextlib.asynccontextmanager
async def busbook_server(
    url: str, env: dict[str, str], *, workers: int = 2, name: str = "bench"
) -> AsyncIterator[Server]:
    """`python app.py serve --workers N --port P --demo` on `url`; stopped on the way out.

    The server runs in its own process group so that it and its Granian workers can be
    stopped together by the group id of the process started here."""
    port = free_port()
    VAR.mkdir(parents=True, exist_ok=True)
    log_path = VAR / f"server-{name}.log"
    full_env = {
        **os.environ,
        "DATABASE_URL": url,
        "SECRET_KEY": SECRET_KEY,
        "BUSBOOK_VAR_DIR": str(VAR / "app"),
        **env,
    }
    with log_path.open("wb") as out:
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            "app.py",
            "serve",
            "--workers",
            str(workers),
            "--host",
            HOST,
            "--port",
            str(port),
            "--demo",
            cwd=ROOT,
            env=full_env,
            stdout=out,
            stderr=asyncio.subprocess.STDOUT,
            start_new_session=True,
        )
    base = f"http://{HOST}:{port}"
    server = Server(process, base, log_path)
    try:
        started = time.monotonic()
        async with httpx.AsyncClient(timeout=5) as http:
            while True:
                if process.returncode is not None:
                    raise RuntimeError(f"server exited ({process.returncode}); see {log_path}")
                if time.monotonic() - started > 90:
                    raise RuntimeError(f"server did not answer /healthz in 90 s; see {log_path}")
                try:
                    if (await http.get(base + "/healthz")).status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                await asyncio.sleep(0.2)
        # Every worker must be up, not just the first one that answered.
        await asyncio.sleep(1.0)
        log(f"server up on {base} (pid {process.pid}, {time.monotonic() - started:.1f} s)")
        yield server
    finally:
        await stop_server(server)


async def stop_server(server: Server) -> None:
    """SIGINT to the server's process group (Granian shuts its workers down), SIGKILL to
    whatever is left of the group after 10 s."""
    process = server.process
    if process.returncode is None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGINT)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(process.wait(), 10)
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)
    await process.wait()
    log(f"server stopped (pid {process.pid})")


# ----------------------------------------------------------------------------- accounts


def csrf_from(html: str) -> str:
    match = CSRF_RE.search(html)
    if not match:
        raise RuntimeError("no csrf_token on the page")
    return match.group(1)


@dataclass
class Customer:
    email: str
    client: httpx.AsyncClient
    csrf: str
    user_id: int = 0


async def register_customer(base: str, email: str, **client_options: Any) -> Customer:
    """Register over HTTP (which signs the browser in), then read the CSRF token of the
    signed-in session from a page, as a browser would."""
    client = httpx.AsyncClient(base_url=base, follow_redirects=False, **client_options)
    try:
        page = await client.get("/users/register")
        page.raise_for_status()
        response = await client.post(
            "/users/register",
            data={
                "csrf_token": csrf_from(page.text),
                "email": email,
                "password": PASSWORD,
                "first_name": "Bench",
                "last_name": "Customer",
                "phone_number": "+919876543210",
            },
        )
        if response.status_code != 303:
            raise RuntimeError(f"register {email}: HTTP {response.status_code}")
        home = await client.get("/")
        home.raise_for_status()
        if "Log out" not in home.text and "logout" not in home.text:
            raise RuntimeError(f"register {email}: not signed in afterwards")
        return Customer(email, client, csrf_from(home.text))
    except BaseException:
        await client.aclose()
        raise


class LeanHttp:
    """One keep-alive HTTP/1.1 connection that sends a POST (a urlencoded form, or JSON with
    a bearer token) and reads the status line, the headers and a Content-Length body:
    nothing else.

    The load generator shares the 2 cores with the server and PostgreSQL. httpx costs
    about 2 ms of CPU per request here, a quarter of what the server itself spends on a
    hold; this costs a few tens of microseconds, so the cores go to the thing measured.
    It speaks only what Busbook answers a POST with; anything else raises."""

    def __init__(
        self,
        base: str,
        cookie: str = "",
        *,
        headers: dict[str, str] | None = None,
        content_type: str = "application/x-www-form-urlencoded",
        origin: bool = True,
    ) -> None:
        host, _, port = base.removeprefix("http://").partition(":")
        self.host, self.port = host, int(port or 80)
        self.cookie = cookie
        fixed = {"Host": f"{self.host}:{self.port}"}
        if origin:  # a browser's form post; API clients (scripts, apps) send none
            fixed["Origin"] = f"http://{self.host}:{self.port}"
        if cookie:
            fixed["Cookie"] = cookie
        fixed |= (headers or {}) | {"Content-Type": content_type}
        self.head = "".join(f"{name}: {value}\r\n" for name, value in fixed.items())
        self.body = b""  # the last answer's body
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    @classmethod
    def with_token(cls, base: str, token: str) -> LeanHttp:
        """A JSON API client: a bearer access token, no cookie, no Origin."""
        return cls(
            base,
            headers={"Authorization": f"Bearer {token}", "Accept": "application/json"},
            content_type="application/json",
            origin=False,
        )

    @classmethod
    def signed_in_as(cls, customer: Customer, base: str) -> LeanHttp:
        cookie = "; ".join(f"{name}={value}" for name, value in customer.client.cookies.items())
        return cls(base, cookie)

    async def post(self, path: str, body: bytes) -> tuple[int, dict[str, str]]:
        if self.writer is None:
            self.reader, self.writer = await asyncio.open_connection(self.host, self.port)
        assert self.reader is not None
        head = f"POST {path} HTTP/1.1\r\n{self.head}Content-Length: {len(body)}\r\n\r\n"
        self.writer.write(head.encode() + body)
        try:
            raw = await self.reader.readuntil(b"\r\n\r\n")
        except (asyncio.IncompleteReadError, ConnectionError):
            await self.close()
            raise
        lines = raw.decode("latin-1").split("\r\n")
        status = int(lines[0].split(" ", 2)[1])
        headers = {}
        for line in lines[1:]:
            if line:
                name, _, value = line.partition(":")
                headers[name.strip().lower()] = value.strip()
        if "content-length" in headers:
            self.body = await self.reader.readexactly(int(headers["content-length"]))
        elif headers.get("transfer-encoding") == "chunked":
            raise RuntimeError("LeanHttp does not read chunked bodies")
        if headers.get("connection", "").lower() == "close":
            await self.close()
        return status, headers

    async def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
            with contextlib.suppress(OSError):
                await self.writer.wait_closed()
        self.reader = self.writer = None


async def register_customers(
    base: str,
    url: str,
    count: int,
    *,
    prefix: str,
    concurrency: int = 4,
    **client_options: Any,
) -> list[Customer]:
    """`count` new customers, each signed in with its own client (cookies), with user ids."""
    tag = secrets.token_hex(3)
    gate = asyncio.Semaphore(concurrency)

    async def one(i: int) -> Customer:
        async with gate:
            return await register_customer(
                base, f"{prefix}-{tag}-{i}@bench.busbook.local", **client_options
            )

    customers = list(await asyncio.gather(*(one(i) for i in range(count))))
    conn = await asyncpg.connect(asyncpg_dsn(url))
    try:
        rows = await conn.fetch(
            "SELECT id, email FROM users WHERE email = ANY($1::text[])",
            [c.email for c in customers],
        )
    finally:
        await conn.close()
    ids = {row["email"]: row["id"] for row in rows}
    for customer in customers:
        customer.user_id = ids[customer.email]
    return customers


# ---------------------------------------------------------------------------- timetable


@dataclass(frozen=True)
class Trip:
    schedule_id: int
    last_seq: int  # stops are 0..last_seq
    seat_ids: tuple[int, ...]  # schedule_seats ids that are not blocked
    seat_numbers: dict[int, str] = field(default_factory=dict, compare=False, hash=False)


async def load_trips(url: str, *, min_lead_minutes: int = 60) -> list[Trip]:
    """Every demo trip whose first stop is still ahead, with its inventory ids and stop
    count, soonest first."""
    conn = await asyncpg.connect(asyncpg_dsn(url))
    try:
        rows = await conn.fetch(
            """
            SELECT s.id,
                   (SELECT max(rs.seq) FROM route_stops rs WHERE rs.route_id = s.route_id)
                     AS last_seq,
                   array_agg(ss.id ORDER BY ss.id) AS seat_ids,
                   array_agg(seat.number ORDER BY ss.id) AS numbers
            FROM schedules s
            JOIN schedule_seats ss ON ss.schedule_id = s.id AND NOT ss.is_blocked
            JOIN seats seat ON seat.id = ss.seat_id
            WHERE s.status = 'scheduled'
              AND s.departure_at > now() + make_interval(mins => $1)
            GROUP BY s.id
            ORDER BY s.departure_at, s.id
            """,
            min_lead_minutes,
        )
    finally:
        await conn.close()
    return [
        Trip(
            r["id"],
            r["last_seq"],
            tuple(r["seat_ids"]),
            dict(zip(r["seat_ids"], r["numbers"], strict=True)),
        )
        for r in rows
    ]


# ------------------------------------------------------------------------------- metrics


def percentile(values: Sequence[float], p: float) -> float:
    """Nearest-rank percentile (p in 0..100); NaN for no values."""
    if not values:
        return math.nan
    ordered = sorted(values)
    rank = max(1, math.ceil(p / 100 * len(ordered)))
    return ordered[min(rank, len(ordered)) - 1]


def ms(seconds: float) -> str:
    return "n/a" if math.isnan(seconds) else f"{seconds * 1000:.1f} ms"


_CLK = os.sysconf("SC_CLK_TCK")


def _stat(pid: int) -> tuple[int, float] | None:
    """(ppid, cpu seconds of the process and of its reaped children)."""
    try:
        raw = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = raw[raw.rindex(")") + 2 :].split()
    ppid = int(fields[1])
    utime, stime, cutime, cstime = (int(x) for x in fields[11:15])
    return ppid, (utime + stime + cutime + cstime) / _CLK


def tree_cpu(root: int | None) -> float:
    """CPU seconds used so far by `root` and every live descendant (exited descendants are
    counted through their parents' cutime/cstime once reaped)."""
    if root is None:
        return 0.0
    stats: dict[int, tuple[int, float]] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            stat = _stat(int(entry))
            if stat is not None:
                stats[int(entry)] = stat
    children: dict[int, list[int]] = {}
    for pid, (ppid, _cpu) in stats.items():
        children.setdefault(ppid, []).append(pid)
    total, todo = 0.0, [root]
    while todo:
        pid = todo.pop()
        if pid in stats:
            total += stats[pid][1]
        todo.extend(children.get(pid, ()))
    return total


def machine_cpu() -> tuple[float, float]:
    """(busy seconds, interrupt + softirq + steal seconds) summed over all CPUs, from
    /proc/stat. Idle and iowait are not busy."""
    parts = Path("/proc/stat").read_text().splitlines()[0].split()[1:]
    user, nice, system, _idle, _iowait, irq, softirq, steal = (int(x) for x in parts[:8])
    busy = user + nice + system + irq + softirq + steal
    return busy / _CLK, (irq + softirq + steal) / _CLK


def self_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


async def postmaster_pid(url: str) -> int | None:
    """The PostgreSQL server's main process, when it runs on this machine and we may read
    its data directory (the embedded server); None otherwise."""
    try:
        conn = await asyncpg.connect(asyncpg_dsn(url))
        try:
            data_dir = await conn.fetchval("SHOW data_directory")
        finally:
            await conn.close()
        pid_file = Path(data_dir, "postmaster.pid")
        return int(pid_file.read_text().splitlines()[0])  # noqa: ASYNC240 (tiny, once)
    except Exception:
        return None


@dataclass
class CpuMeter:
    """CPU used during a phase by this process, the app server, PostgreSQL and the machine."""

    server_pid: int | None
    pg_pid: int | None
    start: dict[str, float] = field(default_factory=dict)
    used: dict[str, float] = field(default_factory=dict)
    wall: float = 0.0

    def _sample(self) -> dict[str, float]:
        busy, interrupts = machine_cpu()
        return {
            "bench": self_cpu(),
            "server": tree_cpu(self.server_pid),
            "postgres": tree_cpu(self.pg_pid),
            # kernel threads (block I/O for WAL flushes, ...) and interrupts: not any
            # process's time, but largely caused by the benchmark
            "kernel": tree_cpu(2) + interrupts,
            "machine": busy,
            "t": time.monotonic(),
        }

    def __enter__(self) -> CpuMeter:
        self.start = self._sample()
        return self

    def __exit__(self, *exc: object) -> None:
        end = self._sample()
        self.wall = end["t"] - self.start["t"]
        self.used = {k: end[k] - self.start[k] for k in end if k != "t"}

    def cores(self, key: str) -> float:
        return self.used.get(key, 0.0) / self.wall if self.wall else math.nan

    def per(self, count: int) -> str:
        """CPU milliseconds per unit of work (a hold, a delivered event) for each part."""
        if not count:
            return "n/a"
        parts = [("bench client", "bench")]
        if self.server_pid:
            parts.append(("app server", "server"))
        if self.pg_pid:
            parts.append(("postgres", "postgres"))
        return ", ".join(
            f"{label} {self.used.get(key, 0.0) / count * 1000:.2f} ms" for label, key in parts
        )

    @property
    def other_cores(self) -> float:
        """Cores used by other processes (other people's work on a shared machine)."""
        known = sum(self.used.get(k, 0.0) for k in ("bench", "server", "postgres", "kernel"))
        return (self.used.get("machine", 0.0) - known) / self.wall if self.wall else math.nan

    def warning(self) -> str:
        """A note when other work on the machine competed with the benchmark."""
        if self.other_cores > 0.25:
            return (
                f"  WARNING: {self.other_cores:.2f} cores were busy with work outside this "
                "benchmark: figures are disturbed; run again on a quiet machine\n"
            )
        return ""

    def summary(self) -> str:
        parts = [
            f"bench client {self.cores('bench'):.2f}",
            f"app server {self.cores('server'):.2f}" if self.server_pid else "app server -",
            f"postgres {self.cores('postgres'):.2f}" if self.pg_pid else "postgres n/a",
            f"kernel {self.cores('kernel'):.2f}",
            f"other processes {self.other_cores:.2f}",
            f"machine {self.cores('machine'):.2f} of {os.cpu_count()}",
        ]
        return "CPU (cores busy): " + ", ".join(parts)


def load_average() -> str:
    return " ".join(Path("/proc/loadavg").read_text().split()[:3])


def fmt_rate(count: int, seconds: float) -> str:
    return f"{count / seconds:.1f}/s" if seconds else "n/a"


def chunks(items: Sequence[Any], size: int) -> Iterable[Sequence[Any]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def _socket_inodes(pid: int) -> set[int]:
    inodes = set()
    try:
        for fd in os.listdir(f"/proc/{pid}/fd"):
            with contextlib.suppress(OSError):
                target = os.readlink(f"/proc/{pid}/fd/{fd}")
                if target.startswith("socket:["):
                    inodes.add(int(target[8:-1]))
    except OSError:
        pass
    return inodes


def tree_pids(root: int) -> list[int]:
    parents: dict[int, int] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            stat = _stat(int(entry))
            if stat is not None:
                parents[int(entry)] = stat[0]
    found, todo = [], [root]
    while todo:
        pid = todo.pop()
        found.append(pid)
        todo.extend(child for child, parent in parents.items() if parent == pid)
    return found


def connections_per_process(root: int, port: int) -> dict[int, int]:
    """Established TCP connections on local `port`, per process of the tree under `root`
    (read from /proc: which process holds which socket)."""
    established: set[int] = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        with contextlib.suppress(OSError):
            for line in Path(table).read_text().splitlines()[1:]:
                cols = line.split()
                local, state, inode = cols[1], cols[3], int(cols[9])
                if state == "01" and int(local.rsplit(":", 1)[1], 16) == port:
                    established.add(inode)
    counts = {}
    for pid in tree_pids(root):
        count = len(_socket_inodes(pid) & established)
        if count:
            counts[pid] = count
    return counts
