"""Live seat maps under load: W watchers on one trip, K holds, and how long each hold
takes to reach every watcher; first over the page's SSE stream, then over the API's
WebSocket, in the same run on the same server.

    uv run python bench/sse.py [--watchers 1000] [--holds 20] [--spacing 0.5] [--runs sse,ws]

The server is `busbook serve --workers 2 --demo` on a fresh database. SSE watchers are plain
asyncio streams (one TCP connection each, HTTP/1.1, chunked body decoded by hand), which
costs far less CPU in this process than 1000 httpx streams would; they are anonymous
visitors of /schedules/{id}/stream?from=0&to=<last>. WebSocket clients are asyncio streams
with wsproto (sans-IO) on /api/v1/schedules/{id}/ws?from_stop=0&to_stop=<last>, anonymous
too. Once every watcher of a run is connected (SSE: it has received `retry:`; WebSocket: its
snapshot), one signed-in customer holds K free seats of that trip over HTTP, ~0.5 s apart
(each run its own seats); for each hold the time from its commit (its pg_notify reaching
this process) to each watcher's event for the seat (`event: seat-<id>`, or a
`{"type": "seat", "seat_id": <id>}` message) is recorded. The watchers of the first run are
closed before the second connects.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import math
import random
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import _common as common
import asyncpg
import httpx
from wsproto import ConnectionType, WSConnection
from wsproto.events import (
    AcceptConnection,
    CloseConnection,
    Message,
    Ping,
    RejectConnection,
    Request,
)

TARGET_P99 = 0.250
EVENT_PREFIX = b"event: seat-"


@dataclass
class Watcher:
    index: int
    connected: asyncio.Event = field(default_factory=asyncio.Event)
    seen: dict[int, float] = field(default_factory=dict)  # schedule seat id -> perf_counter
    events: int = 0
    reloads: int = 0  # SSE: `reload` events; WebSocket: snapshots after the first (gaps)
    error: str | None = None
    connect_time: float = math.nan


class Hub:
    """Who is waiting for which seat: wakes the driver when the last watcher got it."""

    def __init__(self, watchers: int) -> None:
        self.watchers = watchers
        self.counts: dict[int, int] = {}
        self.done: dict[int, asyncio.Event] = {}

    def expect(self, seat_id: int) -> asyncio.Event:
        self.counts.setdefault(seat_id, 0)
        return self.done.setdefault(seat_id, asyncio.Event())

    def seen(self, seat_id: int) -> None:
        if seat_id in self.counts:
            self.counts[seat_id] += 1
            if self.counts[seat_id] >= self.watchers:
                self.done[seat_id].set()


class ChunkedDecoder:
    """Decode an HTTP/1.1 chunked body incrementally."""

    def __init__(self) -> None:
        self.buffer = b""
        self.remaining = 0  # bytes left in the current chunk
        self.state = "size"
        self.finished = False

    def feed(self, data: bytes) -> bytes:
        self.buffer += data
        out = bytearray()
        while True:
            if self.state == "size":
                end = self.buffer.find(b"\r\n")
                if end < 0:
                    break
                size = int(self.buffer[:end].split(b";")[0], 16)
                self.buffer = self.buffer[end + 2 :]
                if size == 0:
                    self.finished = True
                    break
                self.remaining, self.state = size, "data"
            elif self.state == "data":
                if not self.buffer:
                    break
                take = self.buffer[: self.remaining]
                out += take
                self.buffer = self.buffer[len(take) :]
                self.remaining -= len(take)
                if self.remaining == 0:
                    self.state = "crlf"
            else:  # "crlf" after a chunk
                if len(self.buffer) < 2:
                    break
                self.buffer = self.buffer[2:]
                self.state = "size"
        return bytes(out)


async def watch(
    watcher: Watcher, port: int, path: str, hub: Hub, stop: asyncio.Event, gate: asyncio.Semaphore
) -> None:
    writer = None
    try:
        async with gate:
            began = time.perf_counter()
            reader, writer = await asyncio.open_connection(common.HOST, port)
            writer.write(
                f"GET {path} HTTP/1.1\r\nHost: {common.HOST}:{port}\r\n"
                "Accept: text/event-stream\r\nCache-Control: no-cache\r\n\r\n".encode()
            )
            head = await reader.readuntil(b"\r\n\r\n")
            status_line = head.split(b"\r\n", 1)[0]
            if b" 200 " not in status_line + b" ":
                raise RuntimeError(status_line.decode(errors="replace"))
            chunked = b"transfer-encoding: chunked" in head.lower()
            decoder = ChunkedDecoder() if chunked else None
            text = b""
            while not watcher.connected.is_set():
                data = await reader.read(65536)
                if not data:
                    raise RuntimeError("stream closed before retry:")
                text += decoder.feed(data) if decoder else data
                if b"retry:" in text:
                    watcher.connect_time = time.perf_counter() - began
                    watcher.connected.set()
        pending = text
        while not stop.is_set():
            data = await reader.read(65536)
            if not data:
                raise RuntimeError("stream closed by the server")
            now = time.perf_counter()
            pending += decoder.feed(data) if decoder else data
            # Only whole lines; an event line is never split across them.
            cut = pending.rfind(b"\n")
            if cut < 0:
                continue
            lines, pending = pending[: cut + 1], pending[cut + 1 :]
            start = lines.find(EVENT_PREFIX)
            while start >= 0:
                end = lines.find(b"\n", start)
                name = lines[start + len(EVENT_PREFIX) : end]
                if name.isdigit():
                    seat_id = int(name)
                    watcher.events += 1
                    if seat_id not in watcher.seen:
                        watcher.seen[seat_id] = now
                        hub.seen(seat_id)
                start = lines.find(EVENT_PREFIX, end)
            if b"event: reload" in lines:
                watcher.reloads += 1
    except asyncio.CancelledError:
        raise
    except Exception as exc:
        watcher.error = f"{type(exc).__name__}: {exc}"[:200]
        watcher.connected.set()
    finally:
        if writer is not None:
            writer.close()
            with contextlib.suppress(Exception):
                await writer.wait_closed()


async def watch_ws(
    watcher: Watcher, port: int, path: str, hub: Hub, stop: asyncio.Event, gate: asyncio.Semaphore
) -> None:
    """One WebSocket client: a snapshot first, then `seat` messages (answering pings)."""
    writer = None
    try:
        ws = WSConnection(ConnectionType.CLIENT)
        parts: list[str] = []

        def messages() -> list[dict[str, object]]:
            out = []
            for event in ws.events():
                if isinstance(event, Message):
                    parts.append(event.data)
                    if event.message_finished:
                        out.append(json.loads("".join(parts)))
                        parts.clear()
                elif isinstance(event, Ping):
                    writer.write(ws.send(event.response()))
                elif isinstance(event, RejectConnection):
                    raise RuntimeError(f"handshake refused: {event.status_code}")
                elif isinstance(event, CloseConnection):
                    raise RuntimeError(f"closed by the server: {event.code} {event.reason}")
                elif not isinstance(event, AcceptConnection):
                    continue
            return out

        async with gate:
            began = time.perf_counter()
            reader, writer = await asyncio.open_connection(common.HOST, port)
            writer.write(ws.send(Request(host=f"{common.HOST}:{port}", target=path)))
            while not watcher.connected.is_set():
                data = await reader.read(65536)
                if not data:
                    raise RuntimeError("connection closed before the snapshot")
                ws.receive_data(data)
                for message in messages():
                    if message.get("type") == "snapshot":
                        watcher.connect_time = time.perf_counter() - began
                        watcher.connected.set()
        while not stop.is_set():
            data = await reader.read(65536)
            if not data:
                raise RuntimeError("connection closed by the server")
            now = time.perf_counter()
            ws.receive_data(data)
            for message in messages():
                kind = message.get("type")
                if kind == "seat" and message.get("status") == "held":
                    seat_id = int(message["seat_id"])  # type: ignore[call-overload]
                    watcher.events += 1
                    if seat_id not in watcher.seen:
                        watcher.seen[seat_id] = now
                        hub.seen(seat_id)
                elif kind == "snapshot":
                    watcher.reloads += 1
    except asyncio.CancelledError:
        raise
    except Exception as exc:
        watcher.error = f"{type(exc).__name__}: {exc}"[:200]
        watcher.connected.set()
    finally:
        if writer is not None:
            writer.close()
            with contextlib.suppress(Exception):
                await writer.wait_closed()


@dataclass
class HoldResult:
    seat_id: int
    number: str
    sent: float  # the hold request went out
    answered: float  # its HTTP response arrived
    committed: float  # pg_notify of the hold reached this process's own LISTEN connection
    status: int
    seen: list[float]  # when each watcher that got the event got it
    missing: int

    def since(self, reference: float) -> list[float]:
        return [t - reference for t in self.seen]

    def to_last(self, reference: float) -> float:
        return max(self.seen) - reference if self.seen and not self.missing else math.inf


class CommitClock:
    """A LISTEN connection on the app's channel: the moment a hold's pg_notify arrives here
    is the moment it committed (PostgreSQL delivers notifications at commit)."""

    def __init__(self) -> None:
        self.times: dict[int, float] = {}
        self.events: dict[int, asyncio.Event] = {}

    def on_notify(self, _conn: object, _pid: int, _channel: str, payload: object) -> None:
        now = time.perf_counter()
        event = json.loads(str(payload))
        if event.get("r") != "held":
            return
        for seat_id in event.get("ids", ()):
            self.times.setdefault(int(seat_id), now)
            self.events.setdefault(int(seat_id), asyncio.Event()).set()

    async def wait(self, seat_id: int, limit: float) -> float:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self.events.setdefault(seat_id, asyncio.Event()).wait(), limit)
        return self.times.get(seat_id, math.nan)


async def wait_for_watchers(
    watchers: list[Watcher], limit: float, stall: float, holder: common.Customer
) -> float:
    """Until every watcher is connected, or none has connected for `stall` seconds. The
    holder's keep-alive connection is used meanwhile, so that the server keeps it open."""
    began = last_progress = last_ping = time.perf_counter()
    ready = 0
    while True:
        if time.perf_counter() - last_ping > 2:
            last_ping = time.perf_counter()
            with contextlib.suppress(httpx.HTTPError):
                await holder.client.get("/healthz", timeout=2)
        now_ready = sum(1 for w in watchers if w.connected.is_set())
        now = time.perf_counter()
        if now_ready != ready:
            ready, last_progress = now_ready, now
        if ready == len(watchers) or now - began > limit or now - last_progress > stall:
            return now - began
        await asyncio.sleep(0.2)


RUNS = {"sse": "SSE", "ws": "WebSocket"}


@dataclass
class Run:
    """One kind of watcher's run: its clients, its holds and what it measured."""

    kind: str  # "sse" or "ws"
    path: str
    results: list[HoldResult] = field(default_factory=list)
    watchers: list[Watcher] = field(default_factory=list)
    connected: list[Watcher] = field(default_factory=list)
    alive: int = 0
    meter: common.CpuMeter | None = None

    @property
    def label(self) -> str:
        return RUNS[self.kind]


async def run_watchers(
    run: Run,
    args: argparse.Namespace,
    port: int,
    holder: common.Customer,
    trip: common.Trip,
    seats: list[int],
    clock: CommitClock,
    server_pid: int,
    pg_pid: int | None,
) -> None:
    """Connect the run's watchers, make its holds one by one, record every delivery."""
    hub = Hub(args.watchers)
    stop = asyncio.Event()
    gate = asyncio.Semaphore(args.connect_concurrency)
    client = watch if run.kind == "sse" else watch_ws
    run.watchers = [Watcher(i) for i in range(args.watchers)]
    tasks = [asyncio.create_task(client(w, port, run.path, hub, stop, gate)) for w in run.watchers]
    try:
        connect_seconds = await wait_for_watchers(
            run.watchers, args.connect_timeout, args.connect_stall, holder
        )
        run.connected = [w for w in run.watchers if w.connected.is_set() and w.error is None]
        failed = [w for w in run.watchers if w.error is not None]
        connect_times = [w.connect_time for w in run.connected]
        print(
            f"{run.label} watchers connected: {len(run.connected)}/{args.watchers} in "
            f"{connect_seconds:.1f} s (each: p50 "
            f"{common.ms(common.percentile(connect_times, 50))}, "
            f"max {common.ms(max(connect_times, default=math.nan))}); "
            f"failed {len(failed)}" + (f", e.g. {failed[0].error}" if failed else ""),
            flush=True,
        )
        per_worker = common.connections_per_process(server_pid, port)
        print(
            "open connections per server process (pid: count): "
            + ", ".join(f"{pid}: {n}" for pid, n in sorted(per_worker.items())),
            flush=True,
        )
        if not run.connected:
            raise RuntimeError(f"no {run.label} watcher connected")
        hub.watchers = len(run.connected)
        await asyncio.sleep(1.0)  # let the connect burst settle

        with common.CpuMeter(server_pid, pg_pid) as run.meter:
            for seat_id in seats:
                slot_end = time.perf_counter() + args.spacing
                done = hub.expect(seat_id)
                sent = time.perf_counter()
                try:
                    response = await holder.client.post(
                        "/reservations",
                        data={
                            "csrf_token": holder.csrf,
                            "schedule_id": str(trip.schedule_id),
                            "from_stop": "0",
                            "to_stop": str(trip.last_seq),
                            "seat_ids": [str(seat_id)],
                        },
                    )
                    status = response.status_code
                except httpx.HTTPError as exc:
                    status = 0
                    print(f"hold of seat {seat_id}: {type(exc).__name__}", flush=True)
                answered = time.perf_counter()
                committed = await clock.wait(seat_id, args.deliver_timeout)
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(done.wait(), args.deliver_timeout)
                seen = [w.seen[seat_id] for w in run.connected if seat_id in w.seen]
                run.results.append(
                    HoldResult(
                        seat_id,
                        trip.seat_numbers[seat_id],
                        sent,
                        answered,
                        committed,
                        status,
                        seen,
                        len(run.connected) - len(seen),
                    )
                )
                await asyncio.sleep(max(0.0, slot_end - time.perf_counter()))
        run.alive = sum(1 for w in run.connected if w.error is None)
    finally:
        stop.set()
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)


async def main(args: argparse.Namespace) -> int:
    kinds = [k.strip() for k in args.runs.split(",") if k.strip()]
    if not kinds or any(k not in RUNS for k in kinds):
        raise SystemExit(f"--runs: a comma-separated list of {', '.join(RUNS)}")
    # Each watcher is one socket here and one in the server (its child inherits the limit).
    soft, hard = common.raise_nofile(max(4096, args.watchers * 2 + 1024))
    print(
        f"live seat benchmark ({', '.join(RUNS[k] for k in kinds)}): {args.watchers} watchers, "
        f"{args.holds} holds {args.spacing:g} s apart per run; "
        f"RLIMIT_NOFILE {soft}/{hard}; load average before: {common.load_average()}",
        flush=True,
    )
    env = {
        "MAX_HOLDS_PER_TRIP": "1000000",
        # all bench clients are 127.0.0.1: per-address limits off, login ones lifted
        "REGISTRATIONS_PER_IP_PER_HOUR": "1000000",
        "MAX_ACTIVE_HOLDS_PER_IP": "0",
        "MAX_HELD_SEATS_PER_IP_PER_TRIP": "0",
        "LOGIN_MAX_FAILURES_PER_IP": "1000000",
        "MAX_ACTIVE_HOLDS": "1000000",
        # the hourly hold and payment counts (issue 11) off: every hold is one account's
        "HOLDS_PER_ACCOUNT_PER_HOUR": "0",
        "HOLDS_PER_IP_PER_HOUR": "0",
        "PAYMENTS_PER_ACCOUNT_PER_HOUR": "0",
        "PAYMENTS_PER_IP_PER_HOUR": "0",
        "HOLD_MINUTES": "600",  # no hold expires (and sends events) during the run
        "DB_POOL_SIZE": str(args.pool_size),
    }
    runs: list[Run] = []
    async with common.fresh_database("busbook_bench_sse") as url:
        pg_pid = await common.postmaster_pid(url)
        async with common.busbook_server(url, env, workers=args.workers, name="sse") as server:
            port = int(server.base.rsplit(":", 1)[1])
            needed = args.holds * len(kinds)
            trips = [t for t in await common.load_trips(url) if len(t.seat_ids) >= needed]
            if not trips:
                raise RuntimeError(f"no demo trip has {needed} seats: fewer --holds")
            trip = random.Random(args.seed).choice(trips[len(trips) // 4 :])
            seats = random.Random(args.seed).sample(trip.seat_ids, needed)
            paths = {
                "sse": f"/schedules/{trip.schedule_id}/stream?from=0&to={trip.last_seq}",
                "ws": f"/api/v1/schedules/{trip.schedule_id}/ws"
                f"?from_stop=0&to_stop={trip.last_seq}",
            }
            print(
                f"trip {trip.schedule_id}: {len(trip.seat_ids)} seats, stops 0..{trip.last_seq}; "
                + "; ".join(f"{RUNS[k]} {paths[k]}" for k in kinds),
                flush=True,
            )
            [holder] = await common.register_customers(server.base, url, 1, prefix="sse", timeout=5)
            clock = CommitClock()
            listener = await asyncpg.connect(common.asyncpg_dsn(url))
            await listener.add_listener("busbook_seats", clock.on_notify)
            try:
                for i, kind in enumerate(kinds):
                    run = Run(kind, paths[kind])
                    runs.append(run)
                    chosen = seats[i * args.holds : (i + 1) * args.holds]
                    await run_watchers(
                        run, args, port, holder, trip, chosen, clock, server.pid, pg_pid
                    )
                    await asyncio.sleep(1.0)  # the server lets the closed sockets go
            finally:
                await holder.client.aclose()
                await listener.close()

    figures: dict[str, object] = {}
    for run in runs:
        run_figures = report(args, run)
        if run.kind == "sse":
            figures.update(run_figures)  # the SSE figures stay where they always were
        else:
            figures["websocket"] = run_figures
    if len(runs) > 1:
        print("\n== side by side: commit -> last watcher, per hold")
        for run in runs:
            held = [r for r in run.results if r.status == 303 and not math.isnan(r.committed)]
            to_last = [r.to_last(r.committed) for r in held]
            print(
                f"  {run.label:>9}: p50 {common.ms(common.percentile(to_last, 50))}  "
                f"p99 {common.ms(common.percentile(to_last, 99))}  "
                f"max {common.ms(max(to_last, default=math.nan))}  "
                f"({len(run.connected)} watchers, {len(held)} holds, "
                f"missing {sum(r.missing for r in held)})",
                flush=True,
            )
    if args.json:
        Path(args.json).write_text(json.dumps(figures, indent=2))  # noqa: ASYNC240 (once, small)
    return 0


def report(args: argparse.Namespace, run: Run) -> dict[str, object]:
    results, watchers, connected, alive = run.results, run.watchers, run.connected, run.alive
    meter = run.meter
    assert meter is not None
    print(
        f"\n[{run.label}] latencies from the commit (pg_notify seen by this process); "
        "'reply' is the hold's HTTP response relative to the commit"
    )
    print("hold  seat  HTTP  request  reply   first watcher   median  last watcher  missing")
    for i, r in enumerate(results, 1):
        d = sorted(r.since(r.committed))
        print(
            f"{i:>4}  {r.number:>4}  {r.status:>4}  {common.ms(r.answered - r.sent):>8}  "
            f"{common.ms(r.answered - r.committed):>8}  "
            f"{common.ms(d[0] if d else math.nan):>10}  "
            f"{common.ms(common.percentile(d, 50)):>9}  "
            f"{common.ms(r.to_last(r.committed) if not r.missing else math.nan):>11}  "
            f"{r.missing:>7}"
        )
    held = [r for r in results if r.status == 303 and not math.isnan(r.committed)]
    missing = sum(r.missing for r in held)
    hold_latency = [r.answered - r.sent for r in results]
    figures: dict[str, object] = {
        "watchers": len(connected),
        "holds": len(held),
        "missing": missing,
        "hold_request_p50_ms": round(common.percentile(hold_latency, 50) * 1000, 1),
        "hold_request_max_ms": round(max(hold_latency, default=math.nan) * 1000, 1),
        "cpu_cores": {k: round(v / meter.wall, 3) for k, v in meter.used.items()},
    }
    print(
        f"\n== {run.label}: {len(connected)} watchers, "
        f"{len(held)}/{len(results)} holds answered 303 "
        f"(hold request p50 {common.ms(common.percentile(hold_latency, 50))}, "
        f"max {common.ms(max(hold_latency, default=math.nan))})"
    )
    for label, key, reference in (
        ("from the commit", "commit", lambda r: r.committed),
        ("from the hold's HTTP response", "response", lambda r: r.answered),
    ):
        to_last = [r.to_last(reference(r)) for r in held]
        pooled = [d for r in held for d in r.since(reference(r))]
        print(
            f"  {label}:\n"
            f"    to the last watcher (per hold, n={len(to_last)}): "
            f"p50 {common.ms(common.percentile(to_last, 50))}  "
            f"p99 {common.ms(common.percentile(to_last, 99))}  "
            f"max {common.ms(max(to_last, default=math.nan))}\n"
            f"    to each watcher (all {len(pooled)} deliveries): "
            f"min {common.ms(min(pooled, default=math.nan))}  "
            f"p50 {common.ms(common.percentile(pooled, 50))}  "
            f"p90 {common.ms(common.percentile(pooled, 90))}  "
            f"p99 {common.ms(common.percentile(pooled, 99))}  "
            f"max {common.ms(max(pooled, default=math.nan))}"
        )
        figures[key] = {
            "to_last_p50_ms": round(common.percentile(to_last, 50) * 1000, 1),
            "to_last_p99_ms": round(common.percentile(to_last, 99) * 1000, 1),
            "to_last_max_ms": round(max(to_last, default=math.nan) * 1000, 1),
            "each_p50_ms": round(common.percentile(pooled, 50) * 1000, 1),
            "each_p90_ms": round(common.percentile(pooled, 90) * 1000, 1),
            "each_p99_ms": round(common.percentile(pooled, 99) * 1000, 1),
        }
    p99_last = common.percentile([r.to_last(r.committed) for r in held], 99)
    met = p99_last < TARGET_P99 and not missing and len(connected) == args.watchers
    print(
        f"  deliveries missing after {args.deliver_timeout:g} s: {missing}; "
        f"watchers still streaming at the end: {alive}/{len(connected)}; "
        f"reload events: {sum(w.reloads for w in watchers)}\n"
        f"  target: commit -> last watcher p99 < {TARGET_P99 * 1000:.0f} ms -> "
        f"{'MET' if met else 'NOT MET'}"
        f" ({common.ms(p99_last)}, {len(connected)}/{args.watchers} watchers)\n"
        f"  {meter.summary()}\n"
        f"  CPU per delivered event: {meter.per(sum(len(r.seen) for r in held))}\n"
        f"{meter.warning()}"
        f"  load average after: {common.load_average()}",
        flush=True,
    )
    return figures


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--watchers", type=int, default=1000, help="connections per run (1000)")
    parser.add_argument("--holds", type=int, default=20, help="holds to make (20)")
    parser.add_argument("--spacing", type=float, default=0.5, help="seconds between holds (0.5)")
    parser.add_argument("--workers", type=int, default=2, help="Granian workers (2)")
    parser.add_argument("--pool-size", type=int, default=20, help="DB_POOL_SIZE per worker (20)")
    parser.add_argument(
        "--connect-concurrency", type=int, default=64, help="watchers connecting at once (64)"
    )
    parser.add_argument(
        "--connect-timeout", type=float, default=90, help="give up waiting for watchers (90 s)"
    )
    parser.add_argument(
        "--connect-stall",
        type=float,
        default=10,
        help="stop waiting when no watcher has connected for this long (10 s)",
    )
    parser.add_argument(
        "--deliver-timeout", type=float, default=5, help="wait per hold for every watcher (5 s)"
    )
    parser.add_argument(
        "--runs", default="sse,ws", help="which watchers, in order: sse, ws or both (sse,ws)"
    )
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--json", help="also write the figures to this file")
    return parser.parse_args(argv)


if __name__ == "__main__":
    sys.exit(asyncio.run(main(parse_args())))
