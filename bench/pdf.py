"""Ticket PDF rendering time: the QR code, the Jinja template and WeasyPrint, per ticket.

    uv run python bench/pdf.py [--renders 30] [--warmup 2] [--passengers 4] [--out FILE]

Renders templates/tickets/ticket_pdf.html the way the ticket download view does
(qr_svg -> template -> render_pdf) for a realistic booking, after `--warmup` renders that
are not counted (the first one pays WeasyPrint's import and font set-up, reported
separately), then prints median and p90 milliseconds per ticket, split into the HTML part
(QR code + template) and the PDF part (WeasyPrint), against the target.
Nothing touches the network or the database.
"""

from __future__ import annotations

import argparse
import math
import os
import statistics
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from jinja2 import Environment, FileSystemLoader, select_autoescape  # noqa: E402

from domain import ticket_documents, ticket_tokens  # noqa: E402

TARGET_MS = 300.0
SECRET = "bench-secret-" + "x" * 32
NAMES = [
    "Priya Sharma",
    "Rahul Venkataraman",
    "Ananya Iyer",
    "Mohammed Farhan Qureshi",
    "Lakshmi Narayanan",
    "Arjun Deshpande",
]


def percentile(values: list[float], fraction: float) -> float:
    """Nearest-rank percentile."""
    ordered = sorted(values)
    return ordered[max(0, math.ceil(fraction * len(ordered)) - 1)]


def context(passengers: int) -> dict[str, Any]:
    number, reference = ticket_tokens.ticket_number(), ticket_tokens.booking_reference()
    token = ticket_tokens.qr_token(
        SECRET, ticket_number=number, booking_reference=reference, schedule_id=1234
    )
    return {
        "ticket_number": number,
        "booking_reference": reference,
        "status": "valid",
        "route_name": "Mumbai \N{EN DASH} Pune Express via Lonavala",
        "operator": "Sahyadri Travels",
        "bus_type": "AC Sleeper 2+1",
        "origin_city": "Mumbai",
        "boarding_point": "Dadar TT Circle",
        "departs_at_text": "Thu 26 Nov 2026, 07:30",
        "destination_city": "Pune",
        "dropping_point": "Swargate Bus Stand",
        "arrives_at_text": "Thu 26 Nov 2026, 11:15",
        "passengers": [
            {
                "name": NAMES[i % len(NAMES)],
                "age": 20 + 7 * i,
                "gender": ("female", "male")[i % 2],
                "seat": f"L{i + 3}",
                "fare_text": "₹ 683",
            }
            for i in range(passengers)
        ],
        "total_text": f"INR {683 * passengers:,}.00",
        "qr_token": token,
        "issued_at_text": "Wed 25 Nov 2026, 18:02 IST",
        "support_phone": "+91 20 4000 1234",
        "timezone_text": "All times are local (Asia/Kolkata).",
    }


def render_once(env: Environment, ctx: dict[str, Any]) -> tuple[float, float, float, bytes]:
    """One ticket: (html seconds, pdf seconds, CPU seconds of both, the PDF)."""
    cpu = time.process_time()
    started = time.perf_counter()
    values = {key: value for key, value in ctx.items() if key != "qr_token"}
    html = env.get_template("tickets/ticket_pdf.html").render(
        **values,
        qr_svg=ticket_documents.qr_svg(ctx["qr_token"]),
        fonts_url=ticket_documents.FONTS_URL,
    )
    html_done = time.perf_counter()
    pdf = ticket_documents.render_pdf(html)
    done = time.perf_counter()
    return html_done - started, done - html_done, time.process_time() - cpu, pdf


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--renders", type=int, default=30, help="measured renders (30)")
    parser.add_argument("--warmup", type=int, default=2, help="uncounted renders first (2)")
    parser.add_argument("--passengers", type=int, default=4, help="passengers per ticket (4)")
    parser.add_argument("--out", type=Path, help="write the last PDF here")
    args = parser.parse_args()

    env = Environment(loader=FileSystemLoader(ROOT / "templates"), autoescape=select_autoescape())
    ctx = context(args.passengers)

    warmup = max(args.warmup, 1)
    started = time.perf_counter()
    render_once(env, ctx)
    first_ms = (time.perf_counter() - started) * 1000
    for _ in range(warmup - 1):
        render_once(env, ctx)

    html_ms: list[float] = []
    pdf_ms: list[float] = []
    total_ms: list[float] = []
    cpu_ms: list[float] = []
    pdf = b""
    for _ in range(args.renders):
        html_s, pdf_s, cpu_s, pdf = render_once(env, ctx)
        html_ms.append(html_s * 1000)
        pdf_ms.append(pdf_s * 1000)
        total_ms.append((html_s + pdf_s) * 1000)
        cpu_ms.append(cpu_s * 1000)
    if args.out:
        args.out.write_bytes(pdf)

    median = statistics.median(total_ms)
    p90 = percentile(total_ms, 0.9)
    print(f"ticket PDF, {args.passengers} passengers, {len(pdf) / 1024:.0f} KiB")
    print(f"first render (cold: WeasyPrint import + fonts): {first_ms:.0f} ms, not counted")
    print(f"{args.renders} renders after {warmup} warm-up:")
    print(
        f"  html (qr_svg + template): median {statistics.median(html_ms):6.1f} ms"
        f"   p90 {percentile(html_ms, 0.9):6.1f} ms"
    )
    print(
        f"  pdf  (render_pdf):        median {statistics.median(pdf_ms):6.1f} ms"
        f"   p90 {percentile(pdf_ms, 0.9):6.1f} ms"
    )
    print(f"  per ticket:               median {median:6.1f} ms   p90 {p90:6.1f} ms")
    print(
        f"  per ticket, CPU time:     median {statistics.median(cpu_ms):6.1f} ms"
        f"   p90 {percentile(cpu_ms, 0.9):6.1f} ms   (wall - CPU = waiting for a CPU)"
    )
    load = os.getloadavg()[0]
    print(f"machine: {os.cpu_count()} CPUs, load average {load:.2f} (other work slows wall time)")
    verdict = "meets" if p90 < TARGET_MS else "MISSES"
    print(f"target: < {TARGET_MS:.0f} ms per ticket (p90) -> {verdict} the target")


if __name__ == "__main__":
    main()
