"""The way back from a gateway's client-side checkout (Razorpay Checkout) through the
views: the return renders the gateway's page with its script allowed by this page's CSP
only, and the script's post to the callback books through the same domain call."""

from __future__ import annotations

import hashlib
import hmac
import json
import re
from datetime import datetime, timedelta
from urllib.parse import urlencode

import pytest

from domain.enums import PaymentStatus
from domain.models import Payment
from tests import factories
from tests.conftest import make_settings
from tests.views.test_checkout import FORM, reach_gateway

KEY_SECRET = "rzp_secret_views"
ORDER = "order_V0000001"


@pytest.fixture
def settings(database_url):
    return make_settings(
        database_url,
        razorpay_key_id="rzp_test_views",
        razorpay_key_secret=KEY_SECRET,
        razorpay_webhook_secret="whsec_views",
        razorpay_base_url="http://127.0.0.1:9",
    )


@pytest.fixture
async def trip(settings):
    departure = (datetime.now(settings.tz) + timedelta(days=1)).replace(hour=6, minute=0)
    return await factories.make_trip(departure, rows=2)


async def test_client_side_checkout_page_then_signed_callback_books(auth, trip):
    await auth.register()
    seats = (await factories.schedule_seats(trip))[:1]
    await reach_gateway(auth, trip, seats)
    payment = await Payment.get()
    # As Razorpay's start_checkout leaves it (an order, the browser sent to our return).
    await Payment.filter(id=payment.id).update(gateway="razorpay", gateway_reference=ORDER)

    page = await auth.client.get(f"/payments/{payment.public_id}/return?order_id={ORDER}")
    assert page.status_code == 200
    html = await page.get_data(as_text=True)
    assert '<script src="https://checkout.razorpay.com/v1/checkout.js"></script>' in html
    options = json.loads(
        re.search(r'id="razorpay-options">(.*?)</script>', html, re.DOTALL).group(1)
    )
    assert options["order_id"] == ORDER and options["key"] == "rzp_test_views"
    assert options["callback_url"].endswith(f"/payments/{payment.public_id}/callback")
    assert options["cancel_url"].endswith(f"/reservations/{(await payment.reservation).public_id}")
    policy = page.headers["Content-Security-Policy"]
    assert "script-src 'self' https://checkout.razorpay.com;" in policy
    assert "frame-src https://api.razorpay.com https://checkout.razorpay.com" in policy
    # Other pages keep the strict policy.
    other = await auth.client.get(f"/payments/{payment.public_id}")
    assert "razorpay" not in other.headers["Content-Security-Policy"]
    wrong = await auth.client.get(f"/payments/{payment.public_id}/return?order_id=order_other")
    assert wrong.status_code == 404

    # Checkout posts from the gateway's page: no session cookie, no CSRF token.
    auth.client.cookie_jar.clear()
    callback = f"/payments/{payment.public_id}/callback"
    forged = {"razorpay_payment_id": "pay_V1", "razorpay_signature": "0" * 64}
    response = await auth.client.post(callback, data=urlencode(forged), headers=FORM)
    assert response.status_code == 303
    assert (await Payment.get(id=payment.id)).status == PaymentStatus.PENDING
    signature = hmac.new(KEY_SECRET.encode(), f"{ORDER}|pay_V1".encode(), hashlib.sha256)
    good = {"razorpay_payment_id": "pay_V1", "razorpay_signature": signature.hexdigest()}
    response = await auth.client.post(callback, data=urlencode(good), headers=FORM)
    assert response.status_code == 303
    assert response.headers["Location"].endswith(f"/payments/{payment.public_id}")
    paid = await Payment.get(id=payment.id)
    assert paid.status == PaymentStatus.SUCCEEDED and paid.booking_id is not None
