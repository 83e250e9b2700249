"""The app's services in one typed object: settings, gateways, the seat broker, the
policies, the mail sender, the formatter and the clock.

app.py builds one `Services` in `create_app` and installs it on the app; views read it
through `services()`, never through loose `app.config` or `app.extensions` keys.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime
from zoneinfo import ZoneInfo

from quart import Quart, current_app

from domain.accounts import LoginLimits
from domain.cancellations import Tier
from domain.checkout import CheckoutConfig
from domain.events import SeatBroker
from domain.formatting import Formatter
from domain.holds import HoldPolicy
from domain.mail import MailSender
from domain.payments.registry import Gateways
from domain.settings import Settings

SERVICES_KEY = "busbook.services"


@dataclass(frozen=True)
class Services:
    settings: Settings
    gateways: Gateways
    broker: SeatBroker
    mail_sender: MailSender
    hold_policy: HoldPolicy
    checkout: CheckoutConfig
    cancellation_tiers: tuple[Tier, ...]
    login_limits: LoginLimits
    formatter: Formatter
    clock: Callable[[], datetime]

    def now(self) -> datetime:
        return self.clock()

    def today(self) -> date:
        """The operator's calendar day now (what a date input's "today" means)."""
        return self.formatter.local(self.clock()).date()

    @property
    def tz(self) -> ZoneInfo:
        """The operator's time zone (TIMEZONE): what "today" and every shown time mean."""
        return self.formatter.tz


def install(app: Quart, value: Services) -> None:
    app.extensions[SERVICES_KEY] = value


def services_of(app: Quart) -> Services:
    value: Services = app.extensions[SERVICES_KEY]
    return value


def services() -> Services:
    """The running app's services (inside a request or app context)."""
    value: Services = current_app.extensions[SERVICES_KEY]
    return value
