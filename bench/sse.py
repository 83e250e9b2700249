"""Live seat maps under load: W SSE watchers on one trip, K holds, and how long each hold
takes to reach every watcher.

    uv run python bench/sse.py [--watchers 1000] [--holds 20] [--spacing 0.5]

The server is `busbook serve --workers 2 --demo` on a fresh database. Watchers are plain
asyncio streams (one TCP connection each, HTTP/1.1, chunked body decoded by hand), which
costs far less CPU in this process than 1000 httpx streams would; they are anonymous
visitors of /schedules/{id}/stream?from=0&to=<last>. Once every watcher has received
`retry:`, one signed-in customer holds K free seats of that trip over HTTP, ~0.5 s apart;
for each hold the time from the hold's HTTP response (the commit has happened) to each
watcher's `event: seat-<id>` is recorded.
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

TARGET_P99 = 0.250
EVENT_PREFIX = b"event: seat-"


@dataclass
class Watcher:
    index: int
    connected: asyncio.Event = field(default_factory=asyncio.Event)
    seen: dict[int, float] = field(default_factory=dict)  # schedule seat id -> perf_counter
    events: int = 0
    reloads: int = 0
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


async def main(args: argparse.Namespace) -> int:
    # Each watcher is one socket here and one in the server (its child inherits the limit).
    soft, hard = common.raise_nofile(max(4096, args.watchers * 2 + 1024))
    print(
        f"SSE benchmark: {args.watchers} watchers, {args.holds} holds {args.spacing:g} s apart; "
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
        "HOLD_MINUTES": "600",  # no hold expires (and sends events) during the run
        "DB_POOL_SIZE": str(args.pool_size),
    }
    async with common.fresh_database("busbook_bench_sse") as url:
        pg_pid = await common.postmaster_pid(url)
        async with common.busbook_server(url, env, workers=args.workers, name="sse") as server:
            port = int(server.base.rsplit(":", 1)[1])
            trips = [t for t in await common.load_trips(url) if len(t.seat_ids) >= args.holds]
            trip = random.Random(args.seed).choice(trips[len(trips) // 4 :])
            path = f"/schedules/{trip.schedule_id}/stream?from=0&to={trip.last_seq}"
            seats = random.Random(args.seed).sample(trip.seat_ids, args.holds)
            print(
                f"trip {trip.schedule_id}: {len(trip.seat_ids)} seats, stops 0..{trip.last_seq}; "
                f"stream {path}",
                flush=True,
            )
            [holder] = await common.register_customers(server.base, url, 1, prefix="sse", timeout=5)
            clock = CommitClock()
            listener = await asyncpg.connect(common.asyncpg_dsn(url))
            await listener.add_listener("busbook_seats", clock.on_notify)
            hub = Hub(args.watchers)
            stop = asyncio.Event()
            gate = asyncio.Semaphore(args.connect_concurrency)
            watchers = [Watcher(i) for i in range(args.watchers)]
            tasks = [asyncio.create_task(watch(w, port, path, hub, stop, gate)) for w in watchers]
            results: list[HoldResult] = []
            try:
                connect_seconds = await wait_for_watchers(
                    watchers, args.connect_timeout, args.connect_stall, holder
                )
                connected = [w for w in watchers if w.connected.is_set() and w.error is None]
                failed = [w for w in watchers if w.error is not None]
                connect_times = [w.connect_time for w in connected]
                print(
                    f"watchers connected: {len(connected)}/{args.watchers} in "
                    f"{connect_seconds:.1f} s (each: p50 "
                    f"{common.ms(common.percentile(connect_times, 50))}, "
                    f"max {common.ms(max(connect_times, default=math.nan))}); "
                    f"failed {len(failed)}" + (f", e.g. {failed[0].error}" if failed else ""),
                    flush=True,
                )
                per_worker = common.connections_per_process(server.pid, port)
                print(
                    "open connections per server process (pid: count): "
                    + ", ".join(f"{pid}: {n}" for pid, n in sorted(per_worker.items()))
                    + f"; Granian's default backpressure is backlog 1024 / {args.workers} "
                    f"workers = {1024 // args.workers} concurrent requests per worker",
                    flush=True,
                )
                if not connected:
                    raise RuntimeError("no watcher connected")
                hub.watchers = len(connected)
                await asyncio.sleep(1.0)  # let the connect burst settle

                with common.CpuMeter(server.pid, pg_pid) as meter:
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
                        seen = [w.seen[seat_id] for w in connected if seat_id in w.seen]
                        results.append(
                            HoldResult(
                                seat_id,
                                trip.seat_numbers[seat_id],
                                sent,
                                answered,
                                committed,
                                status,
                                seen,
                                len(connected) - len(seen),
                            )
                        )
                        await asyncio.sleep(max(0.0, slot_end - time.perf_counter()))
                alive = sum(1 for w in connected if w.error is None)
            finally:
                stop.set()
                for task in tasks:
                    task.cancel()
                await asyncio.gather(*tasks, return_exceptions=True)
                await holder.client.aclose()
                await listener.close()

    report(args, results, watchers, connected, alive, meter)
    return 0


def report(
    args: argparse.Namespace,
    results: list[HoldResult],
    watchers: list[Watcher],
    connected: list[Watcher],
    alive: int,
    meter: common.CpuMeter,
) -> None:
    print(
        "\nlatencies from the commit (pg_notify seen by this process); "
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
        f"\n== {len(connected)} watchers, {len(held)}/{len(results)} holds answered 303 "
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
    if args.json:
        Path(args.json).write_text(json.dumps(figures, indent=2))


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--watchers", type=int, default=1000, help="SSE connections (1000)")
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
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--json", help="also write the figures to this file")
    return parser.parse_args(argv)


if __name__ == "__main__":
    sys.exit(asyncio.run(main(parse_args())))
