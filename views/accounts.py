"""Accounts: register, log in, log out, profile and password."""

from __future__ import annotations

from quart import Blueprint, redirect, request, session, url_for
from quart.typing import ResponseReturnValue
from quart_auth import login_user, logout_user

from domain import accounts
from domain.errors import Forbidden, InvalidCredentials, TooManyAttempts, ValidationFailed
from domain.models import User
from views import web

blueprint = Blueprint("accounts", __name__, url_prefix="/users")

PROFILE_FIELDS = ("email", "first_name", "last_name", "phone_number")


def _sign_in(user: User) -> None:
    # A new session (and so a new CSRF token) at every sign-in: a session cookie or token
    # planted or read before the login is worth nothing after it (session fixation).
    session.clear()
    login_user(web.AuthUser(web.auth_id_for(user)), remember=True)


def _errors(exc: ValidationFailed | TooManyAttempts) -> dict[str, str]:
    return exc.errors if isinstance(exc, ValidationFailed) else {"": exc.message}


@blueprint.route("/register", methods=["GET", "POST"])
async def register() -> ResponseReturnValue:
    form: dict[str, str] = {}
    errors: dict[str, str] = {}
    status = 200
    if request.method == "POST":
        posted = await request.form
        form = {field: posted.get(field, "") for field in PROFILE_FIELDS}
        try:
            user = await accounts.register(
                accounts.ProfileInput(**form),
                posted.get("password", ""),
                now=web.now(),
                ip=web.client_ip(),
                limits=web.settings().login_limits,
            )
        except (ValidationFailed, TooManyAttempts) as exc:
            errors, status = _errors(exc), exc.status
        else:
            _sign_in(user)
            return redirect(web.safe_next(posted.get("next")), 303)
    return await web.render(
        "pages/accounts/register.html",
        status=status,
        form=form,
        errors=errors,
        next=web.safe_next(request.args.get("next"), ""),
    )


@blueprint.route("/login", methods=["GET", "POST"])
async def login() -> ResponseReturnValue:
    email = ""
    errors: dict[str, str] = {}
    status = 200
    next_target = web.safe_next(request.args.get("next"), "")
    if request.method == "POST":
        posted = await request.form
        email = posted.get("email", "")
        next_target = web.safe_next(posted.get("next"), "")
        try:
            user = await accounts.authenticate(
                email,
                posted.get("password", ""),
                now=web.now(),
                ip=web.client_ip(),
                limits=web.settings().login_limits,
            )
        except (InvalidCredentials, TooManyAttempts) as exc:
            errors, status = {"": exc.message}, exc.status
        else:
            _sign_in(user)
            return redirect(next_target or "/", 303)
    return await web.render(
        "pages/accounts/login.html", status=status, email=email, errors=errors, next=next_target
    )


@blueprint.post("/logout")
async def logout() -> ResponseReturnValue:
    user = web.viewer()
    if user is not None:
        await accounts.log_out(user, now=web.now(), ip=web.client_ip())
    logout_user()
    session.clear()  # and a new CSRF token for whoever uses this browser next
    return redirect("/", 303)


@blueprint.route("/<int:user_id>/profile", methods=["GET", "POST"])
@web.login_required
async def profile(user_id: int) -> ResponseReturnValue:
    user = web.viewer()
    assert user is not None
    account = await accounts.get_profile(user, user_id)
    form = {field: getattr(account, field) for field in PROFILE_FIELDS}
    errors: dict[str, str] = {}
    status = 200
    saved = request.args.get("saved") == "1"
    if request.method == "POST":
        posted = await request.form
        form = {field: posted.get(field, "") for field in PROFILE_FIELDS}
        try:
            await accounts.update_profile(
                user,
                user_id,
                accounts.ProfileInput(**form),
                now=web.now(),
                ip=web.client_ip(),
                current_password=posted.get("email_password", ""),
                limits=web.settings().login_limits,
            )
        except (ValidationFailed, TooManyAttempts) as exc:
            errors, status = _errors(exc), exc.status
        else:
            return redirect(url_for("accounts.profile", user_id=user_id, saved=1), 303)
    return await web.render(
        "pages/accounts/profile.html",
        status=status,
        account=account,
        form=form,
        errors=errors,
        password_errors={},
        saved=saved,
        password_saved=request.args.get("password") == "changed",
    )


@blueprint.post("/<int:user_id>/password")
@web.login_required
async def change_password(user_id: int) -> ResponseReturnValue:
    user = web.viewer()
    assert user is not None
    if user.id != user_id:
        raise Forbidden("You can only change your own password.")
    posted = await request.form
    try:
        user = await accounts.change_password(
            user,
            posted.get("current_password", ""),
            posted.get("new_password", ""),
            now=web.now(),
            ip=web.client_ip(),
            limits=web.settings().login_limits,
        )
    except (ValidationFailed, TooManyAttempts) as exc:
        account = await accounts.get_profile(user, user_id)
        return await web.render(
            "pages/accounts/profile.html",
            status=exc.status,
            account=account,
            form={field: getattr(account, field) for field in PROFILE_FIELDS},
            errors={},
            password_errors=_errors(exc),
            saved=False,
            password_saved=False,
        )
    _sign_in(user)  # this browser stays signed in; every other session is revoked
    return redirect(url_for("accounts.profile", user_id=user_id, password="changed"), 303)
