"""Which gateways are enabled, and which one takes a payment method."""

from __future__ import annotations

from collections.abc import Iterable

from domain.enums import PaymentMethod
from domain.errors import NotFound, ValidationFailed
from domain.payments.base import Gateway


class Gateways:
    """Enabled gateways in order of preference; a method goes to the first that takes it."""

    def __init__(self, gateways: Iterable[Gateway]) -> None:
        self._ordered = list(gateways)
        self._by_name = {g.name: g for g in self._ordered}

    def __iter__(self):  # type: ignore[no-untyped-def]
        return iter(self._ordered)

    def get(self, name: str) -> Gateway:
        gateway = self._by_name.get(name)
        if gateway is None:
            raise NotFound("That payment provider is not enabled here.")
        return gateway

    def for_method(self, method: PaymentMethod) -> Gateway:
        for gateway in self._ordered:
            if method in gateway.methods:
                return gateway
        raise ValidationFailed({"method": "That payment method is not available right now."})

    @property
    def methods(self) -> list[PaymentMethod]:
        return [m for m in PaymentMethod if any(m in g.methods for g in self._ordered)]


def build_gateways(
    order: Iterable[str],
    *,
    secret: str,
    stripe_secret_key: str | None = None,
    stripe_webhook_secret: str | None = None,
    stripe_api_base: str | None = None,
    razorpay_key_id: str | None = None,
    razorpay_key_secret: str | None = None,
    razorpay_webhook_secret: str | None = None,
    razorpay_base_url: str | None = None,
) -> Gateways:
    """Gateways named in `order` (PAYMENT_GATEWAYS), plus Stripe and Razorpay whenever their
    keys are configured; the simulator needs no keys. The counter (domain/payments/
    counter.py) is always added: it takes no online payments, it records counter money."""
    names = [n.strip().lower() for n in order if n.strip()]
    if stripe_secret_key and "stripe" not in names:
        names.append("stripe")
    if razorpay_key_id and "razorpay" not in names:
        names.append("razorpay")
    gateways: list[Gateway] = []
    for name in names:
        if name == "simulator":
            from domain.payments.simulator import SimulatorGateway

            gateways.append(SimulatorGateway(secret))
        elif name == "stripe" and stripe_secret_key and stripe_webhook_secret:
            from domain.payments.stripe_gateway import StripeGateway

            gateways.append(
                StripeGateway(stripe_secret_key, stripe_webhook_secret, api_base=stripe_api_base)
            )
        elif (
            name == "razorpay"
            and razorpay_key_id
            and razorpay_key_secret
            and razorpay_webhook_secret
        ):
            from domain.payments.razorpay_gateway import RazorpayGateway

            gateways.append(
                RazorpayGateway(
                    razorpay_key_id,
                    razorpay_key_secret,
                    razorpay_webhook_secret,
                    base_url=razorpay_base_url,
                )
            )
        else:
            raise SystemExit(
                f"Payment gateway {name!r} is enabled but not fully configured (unknown name, "
                "or some of its keys are missing: Stripe needs STRIPE_SECRET_KEY and "
                "STRIPE_WEBHOOK_SECRET; Razorpay needs RAZORPAY_KEY_ID, RAZORPAY_KEY_SECRET "
                "and RAZORPAY_WEBHOOK_SECRET)."
            )
    # Always there, last: the record of money taken at the counter (it offers no method).
    from domain.payments.counter import CounterGateway

    gateways.append(CounterGateway())
    return Gateways(gateways)
