"""Configuration read from the environment once, at start-up (see README's table)."""

from __future__ import annotations

import os
import re
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

from domain.accounts import LoginLimits
from domain.attempts import RateLimits
from domain.cancellations import Tier, parse_tiers
from domain.checkout import CheckoutConfig
from domain.formatting import Formatter
from domain.holds import HoldPolicy
from domain.payments.registry import Gateways, build_gateways
from domain.proxies import ProxyTrust, parse_trusted_proxies

PROJECT_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_PUBLIC_BASE_URL = "http://localhost:8000"
# Addresses that mean "this machine" to a browser on it: links say localhost.
_LOCAL_HOSTS = frozenset({"127.0.0.1", "0.0.0.0", "::", "::1", "localhost", ""})


def _int(env: dict[str, str], name: str, default: int) -> int:
    raw = env.get(name, "").strip()
    if not raw:
        return default
    try:
        return int(raw)
    except ValueError as exc:
        raise SystemExit(f"{name} must be a whole number, got {raw!r}") from exc


def _number(env: dict[str, str], name: str, default: float) -> float:
    raw = env.get(name, "").strip()
    if not raw:
        return default
    try:
        value = float(raw)
    except ValueError as exc:
        raise SystemExit(f"{name} must be a number, got {raw!r}") from exc
    if value <= 0:
        raise SystemExit(f"{name} must be more than 0, got {raw!r}")
    return value


@dataclass(frozen=True)
class Settings:
    var_dir: Path = PROJECT_ROOT / "var"
    database_url: str | None = None
    secret_key: str = ""
    hold_minutes: float = 15
    sweep_seconds: float = 15
    max_seats_per_hold: int = 6
    max_holds_per_trip: int = 2
    max_active_holds: int = 5
    smtp_url: str | None = None
    mail_from: str = "Busbook <tickets@busbook.local>"
    public_base_url: str = DEFAULT_PUBLIC_BASE_URL
    currency: str = "INR"
    timezone: str = "Asia/Kolkata"
    payment_gateways: tuple[str, ...] = ("simulator",)
    payment_grace_minutes: float = 10
    stripe_secret_key: str | None = None
    stripe_webhook_secret: str | None = None
    stripe_api_base: str | None = None
    razorpay_key_id: str | None = None
    razorpay_key_secret: str | None = None
    razorpay_webhook_secret: str | None = None
    razorpay_base_url: str | None = None
    cancellation_tiers: str = "48:90,24:75,12:50,4:25,0:0"
    login_max_failures: int = 5
    login_window_minutes: int = 15
    db_pool_size: int = 10
    # Safety limits and the proxy setting (issue 9): see README's configuration table.
    trusted_proxies: str = ""
    login_max_failures_per_account: int = 20
    login_max_failures_per_ip: int = 100
    password_check_max_failures: int = 5
    registrations_per_ip_per_hour: int = 10
    max_active_holds_per_ip: int = 10
    max_held_seats_per_ip_per_trip: int = 12
    password_hash_concurrency: int = 2
    # Request-rate limits (issue 11), per account and per address, an hour; 0: off.
    holds_per_account_per_hour: int = 30
    holds_per_ip_per_hour: int = 120
    payments_per_account_per_hour: int = 20
    payments_per_ip_per_hour: int = 60
    # The JSON API (issue 11): browser origins allowed to call /api (CORS, WebSocket Origin),
    # and how long an access token and a refresh token live.
    cors_origins: tuple[str, ...] = ()
    access_token_minutes: int = 15
    refresh_token_days: int = 30
    extra: dict[str, str] = field(default_factory=dict)

    @property
    def hold_policy(self) -> HoldPolicy:
        return HoldPolicy(
            hold_minutes=self.hold_minutes,
            max_seats=self.max_seats_per_hold,
            max_holds_per_trip=self.max_holds_per_trip,
            max_active_holds=self.max_active_holds,
            max_active_holds_per_ip=self.max_active_holds_per_ip,
            max_seats_per_ip_per_trip=self.max_held_seats_per_ip_per_trip,
            holds_per_account_per_hour=self.holds_per_account_per_hour,
            holds_per_ip_per_hour=self.holds_per_ip_per_hour,
        )

    @property
    def checkout(self) -> CheckoutConfig:
        return CheckoutConfig(
            secret=self.secret_key,
            public_base_url=self.public_base_url,
            grace=timedelta(minutes=self.payment_grace_minutes),
            formatter=self.formatter,
            payment_limits=RateLimits(
                per_account=self.payments_per_account_per_hour,
                per_ip=self.payments_per_ip_per_hour,
            ),
        )

    @property
    def formatter(self) -> Formatter:
        """Times in the operator's time zone, money in the configured currency."""
        return Formatter(self.tz, self.currency)

    def gateways(self) -> Gateways:
        return build_gateways(
            self.payment_gateways,
            secret=self.secret_key,
            stripe_secret_key=self.stripe_secret_key,
            stripe_webhook_secret=self.stripe_webhook_secret,
            stripe_api_base=self.stripe_api_base,
            razorpay_key_id=self.razorpay_key_id,
            razorpay_key_secret=self.razorpay_key_secret,
            razorpay_webhook_secret=self.razorpay_webhook_secret,
            razorpay_base_url=self.razorpay_base_url,
        )

    @property
    def tiers(self) -> tuple[Tier, ...]:
        return parse_tiers(self.cancellation_tiers)

    @property
    def proxy_trust(self) -> ProxyTrust:
        return parse_trusted_proxies(self.trusted_proxies)

    @property
    def login_limits(self) -> LoginLimits:
        return LoginLimits(
            per_account_ip=self.login_max_failures,
            per_account=self.login_max_failures_per_account,
            per_ip=self.login_max_failures_per_ip,
            window=timedelta(minutes=self.login_window_minutes),
            password_checks=self.password_check_max_failures,
            registrations_per_ip=self.registrations_per_ip_per_hour,
        )

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    @property
    def allowed_origins(self) -> frozenset[str]:
        """Origins that may call the API from a browser: the site itself and CORS_ORIGINS."""
        parts = urlsplit(self.public_base_url)
        return frozenset({f"{parts.scheme}://{parts.netloc}", *self.cors_origins})

    @property
    def secure_cookies(self) -> bool:
        return self.public_base_url.startswith("https://")

    @classmethod
    def from_env(cls, env: dict[str, str] | None = None, **overrides: object) -> Settings:
        env = dict(os.environ if env is None else env)
        var_dir = Path(env.get("BUSBOOK_VAR_DIR") or PROJECT_ROOT / "var")
        values: dict[str, object] = {
            "var_dir": var_dir,
            "database_url": env.get("DATABASE_URL") or None,
            "secret_key": env.get("SECRET_KEY") or "",
            "hold_minutes": _number(env, "HOLD_MINUTES", 15),
            "sweep_seconds": _number(env, "SWEEP_SECONDS", 15),
            "max_seats_per_hold": _int(env, "MAX_SEATS_PER_HOLD", 6),
            "max_holds_per_trip": _int(env, "MAX_HOLDS_PER_TRIP", 2),
            "max_active_holds": _int(env, "MAX_ACTIVE_HOLDS", 5),
            "smtp_url": env.get("SMTP_URL") or None,
            "mail_from": env.get("MAIL_FROM") or "Busbook <tickets@busbook.local>",
            "public_base_url": (env.get("PUBLIC_BASE_URL") or DEFAULT_PUBLIC_BASE_URL).rstrip("/"),
            "currency": (env.get("CURRENCY") or "INR").strip().upper(),
            "timezone": env.get("TIMEZONE") or "Asia/Kolkata",
            "payment_gateways": tuple(
                g.strip() for g in (env.get("PAYMENT_GATEWAYS") or "simulator").split(",") if g
            ),
            "db_pool_size": _int(env, "DB_POOL_SIZE", 10),
            "payment_grace_minutes": _number(env, "PAYMENT_GRACE_MINUTES", 10),
            "cancellation_tiers": env.get("CANCELLATION_TIERS") or "48:90,24:75,12:50,4:25,0:0",
            "stripe_secret_key": env.get("STRIPE_SECRET_KEY") or None,
            "stripe_webhook_secret": env.get("STRIPE_WEBHOOK_SECRET") or None,
            "stripe_api_base": env.get("STRIPE_API_BASE") or None,
            "razorpay_key_id": env.get("RAZORPAY_KEY_ID") or None,
            "razorpay_key_secret": env.get("RAZORPAY_KEY_SECRET") or None,
            "razorpay_webhook_secret": env.get("RAZORPAY_WEBHOOK_SECRET") or None,
            "razorpay_base_url": env.get("RAZORPAY_BASE_URL") or None,
            "trusted_proxies": env.get("TRUSTED_PROXIES", "").strip(),
            "login_max_failures": _int(env, "LOGIN_MAX_FAILURES", 5),
            "login_window_minutes": _int(env, "LOGIN_WINDOW_MINUTES", 15),
            "login_max_failures_per_account": _int(env, "LOGIN_MAX_FAILURES_PER_ACCOUNT", 20),
            "login_max_failures_per_ip": _int(env, "LOGIN_MAX_FAILURES_PER_IP", 100),
            "password_check_max_failures": _int(env, "PASSWORD_CHECK_MAX_FAILURES", 5),
            "registrations_per_ip_per_hour": _int(env, "REGISTRATIONS_PER_IP_PER_HOUR", 10),
            "max_active_holds_per_ip": _int(env, "MAX_ACTIVE_HOLDS_PER_IP", 10),
            "max_held_seats_per_ip_per_trip": _int(env, "MAX_HELD_SEATS_PER_IP_PER_TRIP", 12),
            "password_hash_concurrency": max(1, _int(env, "PASSWORD_HASH_CONCURRENCY", 2)),
            "holds_per_account_per_hour": _int(env, "HOLDS_PER_ACCOUNT_PER_HOUR", 30),
            "holds_per_ip_per_hour": _int(env, "HOLDS_PER_IP_PER_HOUR", 120),
            "payments_per_account_per_hour": _int(env, "PAYMENTS_PER_ACCOUNT_PER_HOUR", 20),
            "payments_per_ip_per_hour": _int(env, "PAYMENTS_PER_IP_PER_HOUR", 60),
            "cors_origins": tuple(
                o.strip().rstrip("/")
                for o in (env.get("CORS_ORIGINS") or "").split(",")
                if o.strip()
            ),
            "access_token_minutes": _int(env, "ACCESS_TOKEN_MINUTES", 15),
            "refresh_token_days": _int(env, "REFRESH_TOKEN_DAYS", 30),
        }
        values.update(overrides)
        settings = cls(**values)  # type: ignore[arg-type]
        ZoneInfo(settings.timezone)  # fail at start-up, not on the first page
        if not re.fullmatch(r"[A-Z]{3}", settings.currency):
            raise SystemExit(
                f"CURRENCY must be a three-letter ISO 4217 code such as INR, got "
                f"{settings.currency!r}"
            )
        try:
            settings.tiers  # noqa: B018 - validate now
        except ValueError as exc:
            raise SystemExit(
                f"CANCELLATION_TIERS must look like 48:90,24:75,12:50,4:25,0:0 ({exc})"
            ) from exc
        try:
            settings.proxy_trust  # noqa: B018 - validate now
        except ValueError as exc:
            raise SystemExit(
                "TRUSTED_PROXIES must be a number of proxy hops (e.g. 1) or addresses and "
                f"networks separated by commas (e.g. 10.0.0.1,10.1.0.0/16): {exc}"
            ) from exc
        if not settings.secret_key:
            settings = cls(**{**values, "secret_key": load_or_create_secret(settings.var_dir)})  # type: ignore[arg-type]
        return settings


def served_base_url(env: Mapping[str, str], host: str, port: int) -> tuple[str, bool]:
    """The base URL of the links in emails for a server listening on `host:port`, and
    whether PUBLIC_BASE_URL set it. Unset (development), it is the address served, so the
    links reach this server whatever `--port` says; a wildcard or loopback address is
    written as localhost."""
    configured = (env.get("PUBLIC_BASE_URL") or "").strip().rstrip("/")
    if configured:
        return configured, True
    name = "localhost" if host.strip("[]") in _LOCAL_HOSTS else host
    if ":" in name and not name.startswith("["):
        name = f"[{name}]"  # an IPv6 address in a URL
    return (f"http://{name}" if port == 80 else f"http://{name}:{port}"), False


def load_or_create_secret(var_dir: Path) -> str:
    """A development secret kept under var/ so sessions survive restarts."""
    path = var_dir / "secret_key"
    if path.exists():
        return path.read_text().strip()
    var_dir.mkdir(parents=True, exist_ok=True)
    key = secrets.token_urlsafe(48)
    path.write_text(key)
    path.chmod(0o600)
    return key
