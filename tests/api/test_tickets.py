"""Tickets and cancellations under /api/v1: the ticket with its QR code, its PDF, and a
cancellation with its refund."""

from __future__ import annotations

import base64
import io

from pypdf import PdfReader
from quart import Quart
from quart.testing import QuartClient

from tests.api.conftest import problem_of
from tests.api.holding import book_through_api

ACCESS = [
    ("GET", "/api/v1/tickets/{id}", "user"),
    ("GET", "/api/v1/tickets/{id}/download", "user"),
    ("GET", "/api/v1/cancellations/{id}/details", "user"),
]


async def _ticket(client, caller, reference):
    details = await (
        await client.get(f"/api/v1/bookings/{reference}/details", headers=caller.headers)
    ).get_json()
    return details, details["ticket"]["ticket_number"]


async def test_a_ticket_with_its_qr_code_and_pdf(app: Quart, client: QuartClient, caller_for):
    caller = await caller_for()
    reference = await book_through_api(app, client, caller, seats=2)
    details, number = await _ticket(client, caller, reference)
    response = await client.get(f"/api/v1/tickets/{number}", headers=caller.headers)
    assert response.status_code == 200, await response.get_data(as_text=True)
    ticket = await response.get_json()
    assert ticket["ticket_number"] == number and ticket["validity_status"] == "valid"
    assert ticket["booking_reference"] == reference
    assert len(ticket["passengers"]) == 2
    assert ticket["trip"]["id"] == details["schedule"]["id"]
    prefix = "data:image/png;base64,"
    assert ticket["qr_code"].startswith(prefix)
    assert base64.b64decode(ticket["qr_code"][len(prefix) :])[:8] == b"\x89PNG\r\n\x1a\n"
    assert ticket["download_url"].endswith(f"/api/v1/tickets/{number}/download")

    pdf = await client.get(f"/api/v1/tickets/{number}/download", headers=caller.headers)
    assert pdf.status_code == 200
    assert pdf.mimetype == "application/pdf"
    text = PdfReader(io.BytesIO(await pdf.get_data())).pages[0].extract_text()
    assert number in text and "Traveller 0" in text


async def test_someone_elses_ticket_and_cancellation_are_not_found(app, client, caller_for):
    owner, other = await caller_for(), await caller_for()
    reference = await book_through_api(app, client, owner, seats=1)
    _details, number = await _ticket(client, owner, reference)
    for path in (f"/api/v1/tickets/{number}", f"/api/v1/tickets/{number}/download"):
        response = await client.get(path, headers=other.headers)
        assert response.status_code == 404, path
        assert (await problem_of(response))["code"] == "ticket_not_found"
        assert (await client.get(path)).status_code == 401
    cancelled = await (
        await client.post(f"/api/v1/bookings/{reference}/cancel", headers=owner.headers)
    ).get_json()
    path = f"/api/v1/cancellations/{cancelled['id']}/details"
    assert (await client.get(path, headers=other.headers)).status_code == 404
    assert (
        await client.get("/api/v1/cancellations/cnl_x/details", headers=owner.headers)
    ).status_code == 404


async def test_a_cancellation_with_its_seats_and_refund(app, client, caller_for):
    caller = await caller_for()
    reference = await book_through_api(app, client, caller, seats=2)
    details, number = await _ticket(client, caller, reference)
    first = details["seats"][0]
    made = await (
        await client.post(
            f"/api/v1/bookings/{reference}/cancel",
            json={"passenger_ids": [first["passenger_id"]], "reason": "plans changed"},
            headers=caller.headers,
        )
    ).get_json()
    response = await client.get(
        f"/api/v1/cancellations/{made['id']}/details", headers=caller.headers
    )
    assert response.status_code == 200
    cancellation = await response.get_json()
    assert cancellation == made
    assert cancellation["booking_id"] == reference
    assert [s["seat_number"] for s in cancellation["seats"]] == [first["seat_number"]]
    assert cancellation["refund"]["amount"] == cancellation["refund_amount"]
    assert cancellation["reason"] == "plans changed"
    # the old ticket is cancelled and carries nobody; the booking names the new one
    old = await (await client.get(f"/api/v1/tickets/{number}", headers=caller.headers)).get_json()
    assert old["validity_status"] == "cancelled" and old["passengers"] == []
