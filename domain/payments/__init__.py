"""Payments: one interface over several gateways (simulator, Stripe, Razorpay)."""
