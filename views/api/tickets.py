"""Tickets and cancellations: a ticket with its QR code, its PDF, and a cancellation with
its refund. The website makes the same domain calls (views/bookings.py,
views/cancellations.py): `booking_views.ticket_view`, `booking_views.ticket_document`,
`cancellations.cancellation_view`."""

from __future__ import annotations

from pydantic import Field
from quart import Response

from domain import booking_views, cancellations
from domain.enums import PassengerStatus, TicketStatus
from views.api.auth import needs, require_api_user
from views.api.blueprints import api_blueprint
from views.api.booking_schemas import (
    BOOKED_TRIP_EXAMPLE,
    SEAT_PASSENGER_EXAMPLE,
    BookedTrip,
    CancellationOut,
    SeatPassenger,
    TicketOut,
)
from views.api.io import reply, responds, responds_without_model, tags
from views.api.schemas import example
from views.rendering import ticket_pdf
from views.services import services

blueprint = api_blueprint("tickets", __name__)


class TicketDetails(TicketOut):
    model_config = example(
        ticket_number="TK8H3K2M9Q",
        validity_status="valid",
        qr_code="data:image/png;base64,iVBORw0KGgo...",
        download_url="https://busbook.example/api/v1/tickets/TK8H3K2M9Q/download",
        issued_at="2026-12-02T10:16:00+05:30",
        booking_reference="BK7Q2M4X",
        passengers=[SEAT_PASSENGER_EXAMPLE],
        trip=BOOKED_TRIP_EXAMPLE,
    )

    booking_reference: str
    passengers: list[SeatPassenger] = Field(description="Who travels on this ticket.")
    trip: BookedTrip


@blueprint.get("/tickets/<ticket_id>")
@needs("user")
@tags("tickets")
@responds(TicketDetails)
async def ticket_details(ticket_id: str) -> Response:
    """A ticket

    The caller's own ticket (an admin sees any) by its number: its validity, the passengers
    it carries, the trip, and the QR code shown at boarding (a PNG data: URI). A ticket
    replaced after a partial cancellation is `cancelled`; the booking names the new one.
    """
    svc = services()
    view = await booking_views.ticket_view(
        await require_api_user(), ticket_id, config=svc.checkout, now=svc.now()
    )
    assert view.ticket is not None
    ticket = TicketOut.of(view.ticket)
    travelling = (
        [p for p in view.passengers if p.status == PassengerStatus.ACTIVE]
        if view.ticket.status != TicketStatus.CANCELLED
        else []
    )
    return reply(
        TicketDetails(
            **ticket.model_dump(),
            booking_reference=view.booking.reference,
            passengers=[SeatPassenger.of(p) for p in travelling],
            trip=BookedTrip.of(view.booking, view.trip),
        )
    )


@blueprint.get("/tickets/<ticket_id>/download")
@needs("user")
@tags("tickets")
@responds_without_model(200, "The ticket as a PDF.", "application/pdf")
async def ticket_download(ticket_id: str) -> Response:
    """A ticket as PDF

    The printable ticket (`application/pdf`), as the website's download: the passengers
    still travelling, the trip, the QR code.
    """
    svc = services()
    document = await booking_views.ticket_document(
        await require_api_user(), ticket_id, token=None, config=svc.checkout, now=svc.now()
    )
    pdf = await ticket_pdf(document)
    return Response(
        pdf,
        mimetype="application/pdf",
        headers={"Content-Disposition": f'attachment; filename="{document.filename}"'},
    )


@blueprint.get("/cancellations/<cancellation_id>/details")
@needs("user")
@tags("bookings")
@responds(CancellationOut)
async def cancellation_details(cancellation_id: str) -> Response:
    """A cancellation with its refund

    The caller's own cancellation (an admin sees any): the seats it gave up, the policy
    tier, the fee, the refund amount and where the refund is.
    """
    view = await cancellations.cancellation_view(await require_api_user(), cancellation_id)
    return reply(CancellationOut.of(view))
