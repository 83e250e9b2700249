"""Bookings and tickets: the customer's list, one booking, the ticket page and its PDF."""

from __future__ import annotations

from typing import Any

from quart import Blueprint, Response, current_app, request
from quart.typing import ResponseReturnValue

from domain import bookings, inventory, ticket_documents, ticket_tokens, tickets
from domain.errors import TicketLinkExpired, TicketLinkInvalid
from views import auth
from views.rendering import render
from views.services import services

blueprint = Blueprint("bookings", __name__)


@blueprint.get("/bookings")
@auth.login_required
async def list_bookings() -> ResponseReturnValue:
    user = auth.require_user()
    upcoming, past = await bookings.list_bookings(user, services().now())
    return await render("pages/bookings/index.html", upcoming=upcoming, past=past)


async def _booking_context(view: tickets.TicketView | None, booking_ref: str) -> dict[str, Any]:
    user = auth.viewer()
    booking = view.booking if view else await bookings.get_booking(user, booking_ref)
    trip = await inventory.load_trip(booking.schedule_id)
    ticket_list = list(booking.tickets) if view is None else [view.ticket]
    ticket = ticket_list[-1] if ticket_list else None
    link = (
        await tickets.ticket_link(ticket, booking, config=services().checkout) if ticket else None
    )
    return {
        "booking": booking,
        "trip": trip,
        "origin": trip.stop(booking.from_seq),
        "destination": trip.stop(booking.to_seq),
        "ticket": ticket,
        "qr": ticket_documents.qr_svg(ticket.qr_token) if ticket else "",
        "download_link": link,
        "payments": list(getattr(booking, "payments", [])),
        "now_utc": services().now(),
    }


@blueprint.get("/bookings/<reference>")
@auth.login_required
async def show_booking(reference: str) -> ResponseReturnValue:
    context = await _booking_context(None, reference)
    return await render("pages/bookings/detail.html", **context)


@blueprint.get("/tickets/<number>")
@auth.login_required
async def show_ticket(number: str) -> ResponseReturnValue:
    view = await tickets.get_ticket(auth.viewer(), number)
    context = await _booking_context(view, view.booking.reference)
    return await render("pages/bookings/detail.html", **context)


@blueprint.get("/tickets/<number>/download")
async def download_ticket(number: str) -> ResponseReturnValue:
    """The PDF: for its owner when logged in, or for anyone with the signed email link."""
    token = request.args.get("token")
    svc = services()
    fmt = svc.formatter
    if token:
        check = ticket_tokens.read_download_token(svc.settings.secret_key, token, now=svc.now())
        if check.status == "expired" and check.ticket_number == number.upper():
            raise TicketLinkExpired()
        if check.status != "valid" or check.ticket_number != number.upper():
            raise TicketLinkInvalid()
        view = await tickets.ticket_by_number(number)
    else:
        if auth.viewer() is None:
            raise TicketLinkInvalid()
        view = await tickets.get_ticket(auth.viewer(), number)
    booking = view.booking
    trip = await inventory.load_trip(booking.schedule_id)
    origin, destination = trip.stop(booking.from_seq), trip.stop(booking.to_seq)
    html = await current_app.jinja_env.get_template("tickets/ticket_pdf.html").render_async(
        ticket_number=view.ticket.number,
        booking_reference=booking.reference,
        status=view.ticket.status.value,
        route_name=trip.schedule.route.name,
        operator=trip.schedule.bus.operator.name,
        bus_type=trip.schedule.bus.type_label,
        origin_city=origin.city,
        boarding_point=booking.boarding_point.name if booking.boarding_point else origin.city,
        departs_at_text=fmt.datetime(origin.arrives_at),
        destination_city=destination.city,
        dropping_point=booking.dropping_point.name if booking.dropping_point else destination.city,
        arrives_at_text=fmt.datetime(destination.arrives_at),
        passengers=[
            {
                "name": p.name,
                "age": p.age,
                "gender": p.gender.value.title(),
                "seat": p.seat.number,
                "fare_text": fmt.money(p.fare, booking.currency),
            }
            for p in booking.passengers
            if p.status == "active"
        ],
        total_text=fmt.money(booking.total_amount, booking.currency),
        qr_svg=ticket_documents.qr_svg(view.ticket.qr_token),
        issued_at_text=fmt.datetime(view.ticket.issued_at),
        support_phone=trip.schedule.bus.operator.support_phone,
    )
    pdf = await ticket_documents.render_pdf_async(html)
    return Response(
        pdf,
        mimetype="application/pdf",
        headers={
            "Content-Disposition": f'attachment; filename="busbook-{view.ticket.number}.pdf"',
            "Cache-Control": "private, no-store",
        },
    )
