"""Accounts over the API: register, log in, refresh, log out, and the profile. The same
domain calls as the website's account pages (views/accounts.py): accounts.register with its
per-address limit, accounts.authenticate with its login limits (via domain/api_sessions.py),
accounts.get_profile and accounts.update_profile with their rules.

Ids are the account's integer id, as in the website's /users/{id}/profile. A customer asking
for any other id gets 403, whether that account exists or not (the domain refuses before it
looks), so the answer reveals nothing; only an admin can get a 404.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import Field
from quart import Response

from domain import accounts, api_sessions
from domain.errors import AuthenticationRequired, Forbidden, ValidationFailed
from domain.models import User
from views.api.auth import api_user, by_api_key, needs, require_api_user
from views.api.blueprints import api_blueprint
from views.api.idempotency import idempotent
from views.api.io import (
    json_body,
    optional_json_body,
    reply,
    responds,
    responds_without_model,
    tags,
)
from views.api.schemas import Out, Strict, example
from views.auth import client_ip
from views.services import services

blueprint = api_blueprint("users", __name__)

# The users table's columns; a password cap well above any real one (argon2 hashes it all).
EMAIL_MAX, NAME_MAX, PHONE_MAX, PASSWORD_MAX = 254, 80, 32, 1024
TOKEN_MAX = 1024  # refresh tokens are 43 characters; anything up to this is a clear 401
PASSWORD_FIELDS = {"email_password": "current_password"}
NO_STORE = {"Cache-Control": "no-store"}  # tokens are never kept by a cache (RFC 6749 5.1)


class RegisterIn(Strict):
    model_config = example(
        email="asha@example.com",
        password="a long passphrase",
        first_name="Asha",
        last_name="Rao",
        phone_number="+919876543210",
    )

    email: str = Field(max_length=EMAIL_MAX)
    password: str = Field(max_length=PASSWORD_MAX, description="At least 8 characters.")
    first_name: str = Field(max_length=NAME_MAX)
    last_name: str = Field(max_length=NAME_MAX)
    phone_number: str = Field(max_length=PHONE_MAX, description="10 to 15 digits, + allowed.")


class UserOut(Out):
    model_config = example(
        id=42,
        email="asha@example.com",
        first_name="Asha",
        last_name="Rao",
        role="customer",
        is_active=True,
        created_at="2026-12-02T09:30:00+05:30",
    )

    id: int
    email: str
    first_name: str
    last_name: str
    role: Literal["customer", "admin"]
    is_active: bool
    created_at: datetime

    @classmethod
    def of(cls, user: User) -> UserOut:
        return cls.model_validate(_user_fields(user))


class ProfileOut(UserOut):
    model_config = example(
        id=42,
        email="asha@example.com",
        first_name="Asha",
        last_name="Rao",
        phone_number="+919876543210",
        role="customer",
        is_active=True,
        created_at="2026-12-02T09:30:00+05:30",
    )

    phone_number: str

    @classmethod
    def of(cls, user: User) -> ProfileOut:
        return cls.model_validate(_user_fields(user) | {"phone_number": user.phone_number})


def _user_fields(user: User) -> dict[str, Any]:
    return {
        "id": user.id,
        "email": user.email,
        "first_name": user.first_name,
        "last_name": user.last_name,
        "role": user.role.value,
        "is_active": user.is_active,
        "created_at": user.created_at.astimezone(services().tz),
    }


class LoginIn(Strict):
    model_config = example(email="asha@example.com", password="a long passphrase")

    email: str = Field(max_length=EMAIL_MAX)
    password: str = Field(max_length=PASSWORD_MAX)


class RefreshIn(Strict):
    refresh_token: str = Field(max_length=TOKEN_MAX)


class LogoutIn(Strict):
    refresh_token: str | None = Field(
        default=None,
        max_length=TOKEN_MAX,
        description="Log out with the refresh token alone (when the access token has run out).",
    )


class TokensOut(Out):
    model_config = example(
        access_token="eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9...",
        token_type="bearer",
        user_id=42,
        expires_in=900,
        refresh_token="mF_9.B5f-4.1JqM...",
    )

    access_token: str = Field(description="Send as 'Authorization: Bearer <access_token>'.")
    token_type: Literal["bearer"] = "bearer"
    user_id: int
    expires_in: int = Field(description="Seconds the access token lasts.")
    refresh_token: str = Field(
        description=(
            "Swap it for a new pair at /users/refresh before the access token runs out. It "
            "works once: a used one sent again ends this sign-in on every device."
        )
    )

    @classmethod
    def of(cls, pair: api_sessions.TokenPair) -> TokensOut:
        return cls(
            access_token=pair.access.token,
            user_id=pair.user.id,
            expires_in=pair.access.expires_in,
            refresh_token=pair.refresh_token,
        )


class ProfileIn(Strict):
    model_config = example(
        email="asha@example.com",
        first_name="Asha",
        last_name="Rao",
        phone_number="+919876543210",
    )

    email: str = Field(max_length=EMAIL_MAX)
    first_name: str = Field(max_length=NAME_MAX)
    last_name: str = Field(max_length=NAME_MAX)
    phone_number: str = Field(max_length=PHONE_MAX)
    current_password: str = Field(
        default="",
        max_length=PASSWORD_MAX,
        description="Needed only to change the email (where resets and tickets go).",
    )


def _policy() -> api_sessions.TokenPolicy:
    settings = services().settings
    return api_sessions.TokenPolicy(
        secret=settings.secret_key,
        access_minutes=settings.access_token_minutes,
        refresh_days=settings.refresh_token_days,
    )


@blueprint.post("/users/register")
@tags("users")
@responds(UserOut, 201)
@idempotent
@json_body(RegisterIn)
async def register_user(data: RegisterIn) -> Response:
    """Create a customer account

    The website's rules: a valid email not yet registered, a password of at least 8
    characters, names and a phone number; a limited number of new accounts per hour from
    one address (429 with Retry-After). Log in afterwards for tokens.
    """
    svc = services()
    user = await accounts.register(
        accounts.ProfileInput(data.email, data.first_name, data.last_name, data.phone_number),
        data.password,
        now=svc.now(),
        ip=client_ip(),
        limits=svc.login_limits,
    )
    return reply(UserOut.of(user), 201, headers={"Location": f"/api/v1/users/{user.id}/profile"})


@blueprint.post("/users/login")
@tags("users")
@responds(TokensOut)
@json_body(LoginIn)
async def log_in(data: LoginIn) -> Response:
    """Log in: an access token and a refresh token

    A wrong email or password is 422 `invalid_credentials`. After too many failures for one
    account or from one address, 429 `too_many_attempts` with Retry-After (the website's
    limits, shared with it).
    """
    svc = services()
    pair = await api_sessions.log_in(
        data.email,
        data.password,
        policy=_policy(),
        now=svc.now(),
        ip=client_ip(),
        limits=svc.login_limits,
    )
    return reply(TokensOut.of(pair), headers=NO_STORE)


@blueprint.post("/users/refresh")
@tags("users")
@responds(TokensOut)
@json_body(RefreshIn)
async def refresh_tokens(data: RefreshIn) -> Response:
    """Swap a refresh token for a new pair

    Each refresh token works once. 401 `refresh_token_reused` when a used one comes back
    (this sign-in is then ended everywhere: log in again), `refresh_token_expired`,
    `refresh_token_revoked` (logged out, password changed), `refresh_token_invalid`.
    Refresh one request at a time.
    """
    pair = await api_sessions.refresh(
        data.refresh_token, policy=_policy(), now=services().now(), ip=client_ip()
    )
    return reply(TokensOut.of(pair), headers=NO_STORE)


@blueprint.post("/users/logout")
@tags("users")
@responds_without_model(204, "Logged out everywhere (no body).")
@optional_json_body(LogoutIn)
async def log_out(data: LogoutIn) -> Response:
    """Log out everywhere

    With the access token (`Authorization: Bearer`) or with `refresh_token` in the body (or
    both). Every sign-in of the account ends, as the website's log out does: its refresh
    tokens, its access tokens and its browser sessions. 204, also when the refresh token
    was already of no use. API keys are revoked in the console instead (403).
    """
    user = await api_user()
    if user is not None and by_api_key():
        raise Forbidden("An API key does not log out: revoke it in the console instead.")
    if user is None and data.refresh_token is None:
        raise AuthenticationRequired(
            "Send the access token ('Authorization: Bearer <token>') or the refresh token "
            "in the body to log out."
        )
    credential: User | str = user if user is not None else str(data.refresh_token)
    await api_sessions.log_out(credential, now=services().now(), ip=client_ip())
    return Response(status=204)


@blueprint.get("/users/<int:user_id>/profile")
@tags("users")
@needs("user")
@responds(ProfileOut)
async def get_profile(user_id: int) -> Response:
    """An account's profile

    Your own; an admin may read anyone's. Another customer's id is 403, whether it exists
    or not.
    """
    viewer = await require_api_user()
    return reply(ProfileOut.of(await accounts.get_profile(viewer, user_id)))


@blueprint.put("/users/<int:user_id>/profile")
@tags("users")
@needs("user")
@responds(ProfileOut)
@json_body(ProfileIn)
async def update_profile(user_id: int, data: ProfileIn) -> Response:
    """Change a profile

    Every field is sent (this replaces them). A new email needs `current_password`; wrong
    current passwords are limited (429). The website's rules: your own profile, or any as
    an admin.
    """
    viewer = await require_api_user()
    svc = services()
    try:
        user = await accounts.update_profile(
            viewer,
            user_id,
            accounts.ProfileInput(data.email, data.first_name, data.last_name, data.phone_number),
            now=svc.now(),
            ip=client_ip(),
            current_password=data.current_password,
            limits=svc.login_limits,
        )
    except ValidationFailed as exc:
        # The domain names the website's input; here the field is current_password.
        raise ValidationFailed(
            {PASSWORD_FIELDS.get(k, k): message for k, message in exc.errors.items()}
        ) from exc
    return reply(ProfileOut.of(user))
