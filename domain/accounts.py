"""Accounts: registration, sign-in (with a brute-force limit), profiles and passwords."""

from __future__ import annotations

import asyncio
import re
import weakref
from dataclasses import dataclass
from datetime import datetime, timedelta

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from tortoise import connections
from tortoise.exceptions import IntegrityError
from tortoise.expressions import F
from tortoise.transactions import in_transaction

from domain import attempts, audit
from domain.enums import UserRole
from domain.errors import (
    Forbidden,
    InvalidCredentials,
    UserNotFound,
    ValidationFailed,
)
from domain.models import User

_hasher = PasswordHasher()
# Verified against when the email is unknown, so both paths cost the same time.
_DUMMY_HASH = _hasher.hash("busbook-timing-equaliser")

# ------------------------------------------------------------------ password hashing
# An argon2 hash or check takes tens of milliseconds of CPU. On the event loop it stalls
# every other request of the worker (30 concurrent logins pushed /healthz p95 to 2 s), so
# it runs in a thread, and only a few at once per process: more threads would only queue
# on the same cores and starve the loop of the GIL.

HASH_CONCURRENCY = 2
_hash_slots: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, asyncio.Semaphore] = (
    weakref.WeakKeyDictionary()
)


def set_hash_concurrency(slots: int) -> None:
    """How many hashes or checks may run at once in this process (PASSWORD_HASH_CONCURRENCY)."""
    global HASH_CONCURRENCY
    HASH_CONCURRENCY = max(1, slots)
    _hash_slots.clear()


def hash_slots() -> asyncio.Semaphore:
    """This event loop's semaphore (one per loop: a semaphore belongs to the loop it first
    waited on)."""
    loop = asyncio.get_running_loop()
    slots = _hash_slots.get(loop)
    if slots is None:
        slots = _hash_slots[loop] = asyncio.Semaphore(HASH_CONCURRENCY)
    return slots


def _verify_sync(password_hash: str, password: str) -> bool:
    try:
        return _hasher.verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


async def hash_password(password: str) -> str:
    async with hash_slots():
        return await asyncio.to_thread(_hasher.hash, password)


async def verify_password(password_hash: str, password: str) -> bool:
    async with hash_slots():
        return await asyncio.to_thread(_verify_sync, password_hash, password)


# ------------------------------------------------------------------------- limits


@dataclass(frozen=True)
class LoginLimits:
    """Failed password checks allowed (see README: LOGIN_MAX_FAILURES and the others)."""

    per_account_ip: int = 5  # one account from one address, per `window`
    per_account: int = 20  # one account from everywhere, per hour: the slow ceiling
    per_ip: int = 100  # every account from one address, per `window`
    window: timedelta = timedelta(minutes=15)
    password_checks: int = 5  # wrong current passwords (password or email change), per window
    registrations_per_ip: int = 10  # new accounts from one address, per hour


ACCOUNT_WINDOW = timedelta(hours=1)
LOGIN_REFUSED = "Too many failed sign-in attempts."


def login_limits(email: str, ip: str | None, limits: LoginLimits) -> list[attempts.Limit]:
    ip = attempts.address_group(ip)
    checks = [
        attempts.Limit(f"login:{email}|{ip or '-'}", limits.per_account_ip, limits.window),
        attempts.Limit(f"login-account:{email}", limits.per_account, ACCOUNT_WINDOW),
    ]
    if ip:
        checks.append(attempts.Limit(f"login-ip:{ip}", limits.per_ip, limits.window))
    return checks


def password_check_limit(user: User, limits: LoginLimits) -> attempts.Limit:
    return attempts.Limit(f"password:{user.id}", limits.password_checks, limits.window)


async def check_own_password(
    user: User, password: str, *, now: datetime, limits: LoginLimits
) -> bool:
    """A signed-in user proves it is them (changing the password or the email): counted,
    so a stolen session cannot guess the password either."""
    limit = password_check_limit(user, limits)
    await attempts.reserve([limit], now=now, message="Too many wrong passwords.")
    if await verify_password(user.password_hash, password):
        await attempts.reset([limit])
        return True
    return False


EMAIL_RE = re.compile(r"^[^@\s]+@[^@\s]+\.[A-Za-z]{2,}$")
PHONE_RE = re.compile(r"^\+?[0-9]{10,15}$")
NAME_MAX = 80
MIN_PASSWORD = 8


@dataclass(frozen=True)
class ProfileInput:
    email: str
    first_name: str
    last_name: str
    phone_number: str


def normalise_email(email: str) -> str:
    return email.strip().lower()


def normalise_phone(phone: str) -> str:
    return re.sub(r"[\s\-()]", "", phone.strip())


def _validate_profile(data: ProfileInput) -> dict[str, str]:
    errors: dict[str, str] = {}
    if not EMAIL_RE.match(data.email) or len(data.email) > 254:
        errors["email"] = "Enter an email address like name@example.com."
    for field, label in (("first_name", "first name"), ("last_name", "last name")):
        value = getattr(data, field)
        if not value:
            errors[field] = f"Enter your {label}."
        elif len(value) > NAME_MAX:
            errors[field] = f"Your {label} can be at most {NAME_MAX} characters."
    if not PHONE_RE.match(data.phone_number):
        errors["phone_number"] = "Enter a phone number of 10 to 15 digits, e.g. +919876543210."
    return errors


def _clean(data: ProfileInput) -> ProfileInput:
    return ProfileInput(
        email=normalise_email(data.email),
        first_name=data.first_name.strip(),
        last_name=data.last_name.strip(),
        phone_number=normalise_phone(data.phone_number),
    )


def _password_errors(password: str, field: str = "password") -> dict[str, str]:
    if len(password) < MIN_PASSWORD:
        return {field: f"Use at least {MIN_PASSWORD} characters for your password."}
    if len(password) > 1024:
        return {field: "That password is too long."}
    return {}


EMAIL_TAKEN = "An account with this email already exists. Log in instead?"


async def register(
    data: ProfileInput,
    password: str,
    *,
    now: datetime,
    role: UserRole = UserRole.CUSTOMER,
    ip: str | None = None,
    limits: LoginLimits | None = None,
) -> User:
    """Create an account. With `limits` and an `ip`, at most `registrations_per_ip` new
    accounts per hour come from one address (throwaway accounts for hoarding seats)."""
    data = _clean(data)
    errors = _validate_profile(data) | _password_errors(password)
    taken = {"email": EMAIL_TAKEN}
    if "email" not in errors and await User.filter(email=data.email).exists():
        errors |= taken
    if errors:
        raise ValidationFailed(errors)
    group = attempts.address_group(ip)
    per_ip = (
        [attempts.Limit(f"register:{group}", limits.registrations_per_ip, timedelta(hours=1))]
        if limits is not None and ip
        else []
    )
    await attempts.reserve(
        per_ip, now=now, message="Too many new accounts were made from your network."
    )
    password_hash = await hash_password(password)
    try:
        async with in_transaction() as conn:
            user = await User.create(
                email=data.email,
                password_hash=password_hash,
                first_name=data.first_name,
                last_name=data.last_name,
                phone_number=data.phone_number,
                role=role,
                using_db=conn,
            )
            await audit.record(
                "user.registered",
                now=now,
                actor=user,
                subject=user,
                data={"email": user.email, "role": role.value},
                ip=ip,
                using_db=conn,
            )
    except IntegrityError as exc:  # two registrations racing for one email
        await attempts.release(per_ip)
        raise ValidationFailed(taken) from exc
    except BaseException:
        await attempts.release(per_ip)
        raise
    return user


async def authenticate(
    email: str,
    password: str,
    *,
    now: datetime,
    ip: str | None = None,
    limits: LoginLimits = LoginLimits(),
) -> User:
    """Check credentials, within the brute-force limits: `per_account_ip` failures for one
    email from one address per window (the owner elsewhere still gets in), `per_account`
    per hour from everywhere, `per_ip` for every email from one address. The attempt is
    counted before the password is checked, so parallel guesses cannot overshoot. A form
    sent without an email or a password is no attempt: it is refused field by field."""
    missing = {
        field: message
        for field, value, message in (
            ("email", email.strip(), "Enter your email."),
            ("password", password, "Enter your password."),
        )
        if not value
    }
    if missing:
        raise ValidationFailed(missing)
    email = normalise_email(email)
    checks = login_limits(email, ip, limits)
    await attempts.reserve(checks, now=now, message=LOGIN_REFUSED)
    try:
        user = await User.get_or_none(email=email)
        ok = await verify_password(user.password_hash if user else _DUMMY_HASH, password)
        ok = ok and user is not None and user.is_active
    except BaseException:
        await attempts.release(checks)  # nothing was checked
        raise
    if not ok or user is None:
        await audit.record("user.login_failed", now=now, actor=user, data={"email": email}, ip=ip)
        raise InvalidCredentials()
    # The right password: this attempt was no failure, and this address's typos are forgiven.
    await attempts.reset(checks[:1])
    await attempts.release(checks[1:])
    if _hasher.check_needs_rehash(user.password_hash):
        user.password_hash = await hash_password(password)
        await user.save(update_fields=["password_hash"])
    await audit.record("user.logged_in", now=now, actor=user, subject=user, ip=ip)
    return user


@dataclass(frozen=True)
class SessionClaim:
    """Who a login cookie says the browser is. Only the database can say whether it still
    holds: `session_user` checks it, and so does the first statement of a hold."""

    user_id: int
    session_version: int

    @classmethod
    def of(cls, user: User) -> SessionClaim:
        return cls(user.id, user.session_version)


SESSION_USER_SQL = """
    SELECT * FROM users WHERE id = $1 AND session_version = $2 AND is_active
"""


async def session_user(claim: SessionClaim) -> User | None:
    """The user behind a login cookie, or None when the cookie was revoked. Runs on every
    request, so it is one plain query rather than an ORM query build."""
    rows = await connections.get("default").execute_query_dict(
        SESSION_USER_SQL, [claim.user_id, claim.session_version]
    )
    if not rows:
        return None
    row = dict(rows[0])
    row["role"] = UserRole(row["role"])
    return User._init_from_db(**row)


async def get_profile(viewer: User, user_id: int) -> User:
    if viewer.id != user_id and not viewer.is_admin:
        raise Forbidden("You can only see your own profile.")
    user = await User.get_or_none(id=user_id)
    if user is None:
        raise UserNotFound()
    return user


async def update_profile(
    viewer: User,
    user_id: int,
    data: ProfileInput,
    *,
    now: datetime,
    ip: str | None = None,
    current_password: str = "",
    limits: LoginLimits = LoginLimits(),
) -> User:
    """Save profile changes. A new email needs the viewer's current password: the email is
    where password resets and tickets go, so a borrowed session must not be able to take
    the account over by changing it."""
    user = await get_profile(viewer, user_id)
    data = _clean(data)
    errors = _validate_profile(data)
    if (
        not errors
        and data.email != user.email
        and await User.filter(email=data.email).exclude(id=user.id).exists()
    ):
        errors["email"] = "Another account already uses this email."
    if errors:
        raise ValidationFailed(errors)
    if data.email != user.email:
        if not current_password:
            raise ValidationFailed(
                {"email_password": "Enter your current password to change your email."}
            )
        if not await check_own_password(viewer, current_password, now=now, limits=limits):
            raise ValidationFailed({"email_password": "That is not your current password."})
    changed = {
        field: getattr(data, field)
        for field in ("email", "first_name", "last_name", "phone_number")
        if getattr(data, field) != getattr(user, field)
    }
    if not changed:
        return user
    try:
        async with in_transaction() as conn:
            await User.filter(id=user.id).using_db(conn).update(**changed, updated_at=now)
            await audit.record(
                "user.profile_updated",
                now=now,
                actor=viewer,
                subject=user,
                data={"fields": sorted(changed)},
                ip=ip,
                using_db=conn,
            )
    except IntegrityError as exc:
        raise ValidationFailed({"email": "Another account already uses this email."}) from exc
    await user.refresh_from_db()
    return user


async def change_password(
    user: User,
    current_password: str,
    new_password: str,
    *,
    now: datetime,
    ip: str | None = None,
    limits: LoginLimits = LoginLimits(),
) -> User:
    """Change the password and revoke every other session (bumps session_version). Wrong
    current passwords count against `limits.password_checks` (then 429)."""
    errors = _password_errors(new_password, "new_password")
    if errors:
        raise ValidationFailed(errors)
    if not await check_own_password(user, current_password, now=now, limits=limits):
        raise ValidationFailed({"current_password": "That is not your current password."})
    password_hash = await hash_password(new_password)
    async with in_transaction() as conn:
        await (
            User.filter(id=user.id)
            .using_db(conn)
            .update(
                password_hash=password_hash,
                session_version=F("session_version") + 1,
                updated_at=now,
            )
        )
        await audit.record(
            "user.password_changed", now=now, actor=user, subject=user, ip=ip, using_db=conn
        )
    await user.refresh_from_db()
    return user


async def log_out(
    user: User, *, now: datetime, ip: str | None = None, data: dict[str, object] | None = None
) -> None:
    """End every session of `user`: bumping the session version revokes every login cookie,
    API access token and refresh token issued before (domain/refresh_tokens.py). `data`
    goes into the audit row (the API says which sign-ins it revoked)."""
    async with in_transaction() as conn:
        await (
            User.filter(id=user.id).using_db(conn).update(session_version=F("session_version") + 1)
        )
        await audit.record(
            "user.logged_out", now=now, actor=user, subject=user, data=data, ip=ip, using_db=conn
        )


async def create_admin(email: str, password: str, *, now: datetime) -> tuple[User, bool]:
    """Make `email` an admin, promoting an account or creating one. Returns (user, created)."""
    email = normalise_email(email)
    user = await User.get_or_none(email=email)
    if user is None:
        local = email.split("@", 1)[0] or "Admin"
        data = ProfileInput(email, local.title()[:NAME_MAX], "Admin", "+910000000000")
        return await register(data, password, now=now, role=UserRole.ADMIN), True
    if user.role != UserRole.ADMIN:
        async with in_transaction() as conn:
            await User.filter(id=user.id).using_db(conn).update(role=UserRole.ADMIN)
            await audit.record(
                "user.promoted_admin", now=now, subject=user, data={"email": email}, using_db=conn
            )
        await user.refresh_from_db()
    return user, False
