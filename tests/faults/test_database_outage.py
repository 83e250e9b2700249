"""PostgreSQL stopped and started again under load, against a real `busbook serve`.

During the outage every page is a 503 with `Retry-After` (never a 500), a hold or a
checkout is refused with nothing stored, and a gateway notification is answered 503 so the
gateway delivers it again. When PostgreSQL is back the same server answers again by itself,
the notification delivered again is applied once, and the integrity queries hold.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import Counter

import httpx
import pytest

from domain.demo import DEMO_CUSTOMER
from tests.conftest import VAR
from tests.faults.conftest import (
    Browser,
    FaultPostgres,
    assert_integrity_at,
    busbook_serve,
    checkout_form,
    free_seats,
    fresh_database,
    hold,
    payment_row,
    query,
    simulator_webhook,
)

pytestmark = pytest.mark.faults
LOAD_CLIENTS = 4
BOOKINGS_OF_HOLD = (
    "SELECT b.id FROM bookings b JOIN reservations r ON r.id = b.reservation_id "
    "WHERE r.public_id = $1"
)
PAYMENTS_OF_HOLD = (
    "SELECT p.id FROM payments p JOIN reservations r ON r.id = p.reservation_id "
    "WHERE r.public_id = $1"
)


async def _load(
    base: str, paths: list[str], phase: dict[str, str], seen: Counter[tuple[str, int]]
) -> None:
    """A visitor clicking around: counts (phase, status) of every answer."""
    async with httpx.AsyncClient(base_url=base, timeout=30) as http:
        while phase["now"] != "done":
            for path in paths:
                asked = phase["now"]
                response = await http.get(path)
                seen[asked, response.status_code] += 1
                if response.status_code == 503:
                    assert response.headers.get("Retry-After", "").isdigit()
                await asyncio.sleep(0.02)


async def test_postgresql_stopped_and_started_again_under_load(fault_postgres: FaultPostgres):
    url = await fresh_database(fault_postgres.url, "busbook_outage")
    async with busbook_serve(url, VAR / "faults-outage", env={"SWEEP_SECONDS": "1"}) as server:
        browser = Browser(server.base)
        await browser.login(*DEMO_CUSTOMER)
        trip = await free_seats(url, 3)
        schedule_id, _last, (paid_seat, unpaid_seat, outage_seat) = trip
        # Before the outage: one hold goes to the gateway (the payer is on its page), one
        # waits at the checkout form.
        paying = await hold(browser, trip, paid_seat)
        response = await browser.post(
            f"/reservations/{paying}/checkout", await checkout_form(browser, paying)
        )
        assert response.status_code == 303, response.text[:500]
        payment_ref = response.headers["location"].split("?")[0].rsplit("/", 1)[1]
        payment = await payment_row(url, payment_ref)
        webhook = simulator_webhook(payment["id"], payment["gateway_reference"], payment["amount"])
        waiting = await hold(browser, trip, unpaid_seat)
        waiting_form = await checkout_form(browser, waiting)
        await browser.page(f"/schedules/{schedule_id}")  # a fresh CSRF token for later

        seen: Counter[tuple[str, int]] = Counter()
        phase = {"now": "before"}
        paths = ["/", f"/schedules/{schedule_id}", "/healthz", "/static/css/busbook.css"]
        load = [
            asyncio.create_task(_load(server.base, paths, phase, seen)) for _ in range(LOAD_CLIENTS)
        ]
        try:
            await asyncio.sleep(0.5)
            phase["now"] = "outage"
            await asyncio.to_thread(fault_postgres.stop)

            async with httpx.AsyncClient(base_url=server.base) as http:
                health = await http.get("/healthz")
                assert health.status_code == 503 and health.headers["Retry-After"] == "5"
                assert health.json()["status"] == "unavailable"
                page = await http.get(f"/schedules/{schedule_id}")
                assert page.status_code == 503
                assert "briefly unavailable" in page.text and "try again" in page.text
                # The gateway's notification cannot be stored now: 503, so it comes again.
                headers, body = webhook
                refused = await http.post(
                    "/payments/webhook/simulator", content=body, headers=headers
                )
                assert refused.status_code == 503, refused.text[:300]
            held_now = await browser.post(
                "/reservations",
                {"schedule_id": schedule_id, "from_stop": 0, "to_stop": trip[1]}
                | {"seat_ids": outage_seat},
            )
            assert held_now.status_code == 503 and "Retry-After" in held_now.headers
            # Refused before the database (no CSRF token): its error page would show who is
            # signed in, which this view loads only then; that too is the 503, not a 500.
            no_token = await browser.http.post(
                "/reservations", data={"schedule_id": schedule_id, "seat_ids": outage_seat}
            )
            assert no_token.status_code == 503, no_token.text[:300]
            paid_now = await browser.post(f"/reservations/{waiting}/checkout", waiting_form)
            assert paid_now.status_code == 503 and "Nothing was changed" in paid_now.text
            await asyncio.sleep(1)  # let the load see the outage for a while

            await asyncio.to_thread(fault_postgres.start)
            async with httpx.AsyncClient(base_url=server.base) as http:
                for _ in range(300):
                    with contextlib.suppress(httpx.TransportError):
                        if (await http.get("/healthz")).status_code == 200:
                            break
                    await asyncio.sleep(0.1)
                else:
                    raise AssertionError("the server did not recover within 30 s")
            phase["now"] = "after"
            await asyncio.sleep(1)
        finally:
            phase["now"] = "done"
            await asyncio.gather(*load)

        statuses = {status for (_phase, status) in seen}
        assert statuses <= {200, 503}, seen  # never a 500
        assert seen["outage", 503] > 0, seen
        # Once /healthz says 200 again, everything does (the pool reconnected by itself).
        after = {status for (asked, status) in seen if asked in {"after", "done"}}
        assert after == {200}, seen

        # Back: the webhook delivered again is applied, once.
        async with httpx.AsyncClient(base_url=server.base) as http:
            headers, body = webhook
            for _ in range(2):
                again = await http.post(
                    "/payments/webhook/simulator", content=body, headers=headers
                )
                assert again.status_code == 200, again.text[:300]
        payment = await payment_row(url, payment_ref)
        assert payment["status"] == "succeeded" and payment["booking_id"]
        assert len(await query(url, BOOKINGS_OF_HOLD, paying)) == 1
        # The hold tried during the outage was not stored; the checkout tried then was not
        # either, and the same form now goes to the gateway.
        assert not await query(
            url,
            "SELECT id FROM seat_allocations WHERE schedule_id = $1 AND schedule_seat_id = $2",
            schedule_id,
            outage_seat,
        )
        assert not await query(url, PAYMENTS_OF_HOLD, waiting)
        await browser.page(f"/reservations/{waiting}")
        retried = await browser.post(f"/reservations/{waiting}/checkout", waiting_form)
        assert retried.status_code == 303 and "/payments/simulator/" in retried.headers["location"]
        await browser.close()
        assert server.process.returncode is None  # the same server all along
        await assert_integrity_at(url)
