"""Accounts: registration, sign-in (with a brute-force limit), profiles and passwords."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from tortoise import connections
from tortoise.exceptions import IntegrityError
from tortoise.expressions import F
from tortoise.transactions import in_transaction

from domain import audit
from domain.enums import UserRole
from domain.errors import (
    Forbidden,
    InvalidCredentials,
    TooManyAttempts,
    UserNotFound,
    ValidationFailed,
)
from domain.models import ActivityLog, User

_hasher = PasswordHasher()
# Verified against when the email is unknown, so both paths cost the same time.
_DUMMY_HASH = _hasher.hash("busbook-timing-equaliser")

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


async def register(
    data: ProfileInput,
    password: str,
    *,
    now: datetime,
    role: UserRole = UserRole.CUSTOMER,
    ip: str | None = None,
) -> User:
    data = _clean(data)
    errors = _validate_profile(data) | _password_errors(password)
    taken = {"email": "An account with this email already exists. Log in instead?"}
    if "email" not in errors and await User.filter(email=data.email).exists():
        errors |= taken
    if errors:
        raise ValidationFailed(errors)
    try:
        async with in_transaction() as conn:
            user = await User.create(
                email=data.email,
                password_hash=_hasher.hash(password),
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
        raise ValidationFailed(taken) from exc
    return user


async def authenticate(
    email: str,
    password: str,
    *,
    now: datetime,
    ip: str | None = None,
    max_failures: int = 5,
    window: timedelta = timedelta(minutes=15),
) -> User:
    """Check credentials. After `max_failures` failed tries for one email (or from one IP)
    within `window`, refuse further tries until the window has passed."""
    email = normalise_email(email)
    since = now - window
    failures = ActivityLog.filter(action="user.login_failed", created_at__gte=since)
    if await failures.filter(data__contains={"email": email}).count() >= max_failures or (
        ip and await failures.filter(ip=ip).count() >= max_failures * 4
    ):
        raise TooManyAttempts(
            "Too many failed sign-in attempts. Please wait 15 minutes and try again."
        )
    user = await User.get_or_none(email=email)
    try:
        _hasher.verify(user.password_hash if user else _DUMMY_HASH, password)
        ok = user is not None and user.is_active
    except (VerificationError, InvalidHashError):
        ok = False
    if not ok or user is None:
        await audit.record("user.login_failed", now=now, actor=user, data={"email": email}, ip=ip)
        raise InvalidCredentials()
    if _hasher.check_needs_rehash(user.password_hash):
        user.password_hash = _hasher.hash(password)
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
    viewer: User, user_id: int, data: ProfileInput, *, now: datetime, ip: str | None = None
) -> User:
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
) -> User:
    """Change the password and revoke every other session (bumps session_version)."""
    errors: dict[str, str] = {}
    try:
        _hasher.verify(user.password_hash, current_password)
    except (VerificationError, InvalidHashError):
        errors["current_password"] = "That is not your current password."
    errors |= _password_errors(new_password, "new_password")
    if errors:
        raise ValidationFailed(errors)
    async with in_transaction() as conn:
        await (
            User.filter(id=user.id)
            .using_db(conn)
            .update(
                password_hash=_hasher.hash(new_password),
                session_version=F("session_version") + 1,
                updated_at=now,
            )
        )
        await audit.record(
            "user.password_changed", now=now, actor=user, subject=user, ip=ip, using_db=conn
        )
    await user.refresh_from_db()
    return user


async def log_out(user: User, *, now: datetime, ip: str | None = None) -> None:
    async with in_transaction() as conn:
        await (
            User.filter(id=user.id).using_db(conn).update(session_version=F("session_version") + 1)
        )
        await audit.record(
            "user.logged_out", now=now, actor=user, subject=user, ip=ip, using_db=conn
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
