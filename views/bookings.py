"""Bookings and tickets: the customer's list, one booking, the ticket page and its PDF."""

from __future__ import annotations

from typing import Any

from quart import Blueprint, Response, request
from quart.typing import ResponseReturnValue

from domain import booking_views, bookings
from views import auth
from views.rendering import render, ticket_pdf
from views.services import services

blueprint = Blueprint("bookings", __name__)


@blueprint.get("/bookings")
@auth.login_required
async def list_bookings() -> ResponseReturnValue:
    user = auth.require_user()
    mine = await bookings.list_bookings(user, services().now())
    return await render(
        "pages/bookings/index.html",
        upcoming=mine.upcoming,
        past=mine.past,
        cancelled=mine.cancelled,
    )


def _booking_page(view: booking_views.BookingView) -> dict[str, Any]:
    return {
        "view": view,
        "booking": view.booking,
        "trip": view.trip,
        "origin": view.origin,
        "destination": view.destination,
        "ticket": view.ticket,
        "qr": view.qr_svg,
        "download_link": view.download_link,
        "payments": view.payments,
    }


@blueprint.get("/bookings/<reference>")
@auth.login_required
async def show_booking(reference: str) -> ResponseReturnValue:
    svc = services()
    view = await booking_views.booking_view(
        auth.viewer(), reference, config=svc.checkout, now=svc.now()
    )
    return await render("pages/bookings/detail.html", **_booking_page(view))


@blueprint.get("/tickets/<number>")
@auth.login_required
async def show_ticket(number: str) -> ResponseReturnValue:
    svc = services()
    view = await booking_views.ticket_view(
        auth.viewer(), number, config=svc.checkout, now=svc.now()
    )
    return await render("pages/bookings/detail.html", **_booking_page(view))


@blueprint.get("/tickets/<number>/download")
async def download_ticket(number: str) -> ResponseReturnValue:
    """The PDF: for its owner when logged in, or for anyone with the signed email link."""
    svc = services()
    document = await booking_views.ticket_document(
        auth.viewer(),
        number,
        token=request.args.get("token"),
        config=svc.checkout,
        now=svc.now(),
    )
    pdf = await ticket_pdf(document)
    return Response(
        pdf,
        mimetype="application/pdf",
        headers={
            "Content-Disposition": f'attachment; filename="{document.filename}"',
            "Cache-Control": "private, no-store",
        },
    )
