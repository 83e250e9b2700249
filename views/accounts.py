"""Accounts: register, log in, log out, profile and password."""

from __future__ import annotations

from typing import Any

from markupsafe import Markup
from quart import Blueprint, flash, redirect, request, session, url_for
from quart.typing import ResponseReturnValue
from quart_auth import login_user, logout_user

from domain import accounts
from domain.errors import Forbidden, InvalidCredentials, TooManyAttempts, ValidationFailed
from domain.models import User
from views import auth, forms
from views.rendering import render, with_retry_after
from views.services import services

blueprint = Blueprint("accounts", __name__, url_prefix="/users")

PROFILE_FIELDS = ("email", "first_name", "last_name", "phone_number")
# Column lengths (User), and a password cap well above any real one (argon2 hashes it all).
FIELD_LIMITS = {"email": 254, "first_name": 80, "last_name": 80, "phone_number": 32}
LABELS = {
    "email": "The email address",
    "first_name": "Your first name",
    "last_name": "Your last name",
    "phone_number": "The phone number",
}
PASSWORD_MAX = 1024


def _profile_input(p: forms.Parser) -> accounts.ProfileInput:
    """The profile fields within their columns; one that is not reaches the domain blank
    (refused there: every profile field is required), its message kept in `p.errors`."""
    values = {
        name: p.text(name, max_len=limit, label=LABELS[name])
        for name, limit in FIELD_LIMITS.items()
    }
    return accounts.ProfileInput(**values)


def _sign_in(user: User) -> None:
    # A new session (and so a new CSRF token) at every sign-in: a session cookie or token
    # planted or read before the login is worth nothing after it (session fixation).
    session.clear()
    login_user(auth.auth_user_for(user), remember=True)
    auth.forget_session_claim()


def _errors(exc: ValidationFailed | TooManyAttempts) -> dict[str, str]:
    return exc.errors if isinstance(exc, ValidationFailed) else {"": exc.message}


def _prefilled_email() -> str:
    """The email a link from the other account page carries (`?email=`), to type it once."""
    email = request.args.get("email", "")
    return email if len(email) <= FIELD_LIMITS["email"] and email.isprintable() else ""


def _with_link(text: str, link_text: str, endpoint: str, email: str, next_: str) -> Markup:
    """A refusal whose way out is the other account page, linked, carrying the typed email
    and where the visitor was going (both escaped by Markup.format)."""
    href = url_for(endpoint, email=email or None, next=next_ or None)
    return Markup('{} <a href="{}">{}</a>').format(text, href, link_text)


@blueprint.route("/register", methods=["GET", "POST"])
async def register() -> ResponseReturnValue:
    form: dict[str, str] = {}
    errors: dict[str, str] = {}
    status = 200
    next_target = auth.safe_next(request.args.get("next"), "")
    refused: TooManyAttempts | None = None
    if request.method == "POST":
        posted = await request.form
        next_target = auth.safe_next(posted.get("next"), "")  # kept when the form comes back
        form = {field: posted.get(field, "") for field in PROFILE_FIELDS}
        p = forms.Parser(posted)
        try:
            user = await accounts.register(
                _profile_input(p),
                posted.get("password", ""),  # the domain bounds its length
                now=services().now(),
                ip=auth.client_ip(),
                limits=services().login_limits,
            )
        except TooManyAttempts as exc:
            refused, errors, status = exc, p.merged(_errors(exc)), exc.status
        except ValidationFailed as exc:
            errors, status = p.merged(_errors(exc)), exc.status
            if errors.get("email") == accounts.EMAIL_TAKEN:
                errors["email"] = _with_link(
                    accounts.EMAIL_TAKEN.removesuffix(" Log in instead?"),
                    "Log in instead?",
                    "accounts.login",
                    form["email"],
                    next_target,
                )
        else:
            _sign_in(user)
            await flash(f"Welcome, {user.first_name} — your account is ready.", "success")
            return redirect(next_target or "/", 303)
    else:
        form = {"email": _prefilled_email()}
    page = await render(
        "pages/accounts/register.html",
        status=status,
        form=form,
        errors=errors,
        next=next_target,
    )
    return await with_retry_after(page, refused) if refused else page


def _login_input(posted: Any) -> None:
    """Refuse what no account can match (too long, control characters) before the
    database sees it; the domain then checks the credentials."""
    p = forms.Parser(posted)
    p.text("email", max_len=FIELD_LIMITS["email"], label="The email address")
    p.parse(
        "password",
        forms.secret_field,
        posted.get("password"),
        max_len=PASSWORD_MAX,
        label="The password",
    )
    p.check()


@blueprint.route("/login", methods=["GET", "POST"])
async def login() -> ResponseReturnValue:
    email = _prefilled_email()
    errors: dict[str, str] = {}
    status = 200
    next_target = auth.safe_next(request.args.get("next"), "")
    refused: TooManyAttempts | None = None
    if request.method == "POST":
        posted = await request.form
        email = posted.get("email", "")
        next_target = auth.safe_next(posted.get("next"), "")
        try:
            _login_input(posted)
            user = await accounts.authenticate(
                email,
                posted.get("password", ""),
                now=services().now(),
                ip=auth.client_ip(),
                limits=services().login_limits,
            )
        except ValidationFailed as exc:  # a field left empty, or one no account can match
            errors, status = exc.errors, exc.status
        except InvalidCredentials as exc:
            link = _with_link(
                exc.message, "Create an account instead?", "accounts.register", email, next_target
            )
            errors, status = {"": link}, exc.status
        except TooManyAttempts as exc:
            errors, status, refused = {"": exc.message}, exc.status, exc
        else:
            _sign_in(user)
            return redirect(next_target or "/", 303)
    page = await render(
        "pages/accounts/login.html", status=status, email=email, errors=errors, next=next_target
    )
    return await with_retry_after(page, refused) if refused else page


@blueprint.post("/logout")
async def logout() -> ResponseReturnValue:
    user = auth.viewer()
    if user is not None:
        await accounts.log_out(user, now=services().now(), ip=auth.client_ip())
    logout_user()
    auth.forget_session_claim()
    session.clear()  # and a new CSRF token for whoever uses this browser next
    return redirect("/", 303)


@blueprint.route("/<int:user_id>/profile", methods=["GET", "POST"])
@auth.login_required
async def profile(user_id: int) -> ResponseReturnValue:
    user = auth.require_user()
    account = await accounts.get_profile(user, user_id)
    form = {field: getattr(account, field) for field in PROFILE_FIELDS}
    errors: dict[str, str] = {}
    status = 200
    saved = request.args.get("saved") == "1"
    if request.method == "POST":
        posted = await request.form
        form = {field: posted.get(field, "") for field in PROFILE_FIELDS}
        p = forms.Parser(posted)
        try:
            await accounts.update_profile(
                user,
                user_id,
                _profile_input(p),
                now=services().now(),
                ip=auth.client_ip(),
                current_password=posted.get("email_password", ""),
                limits=services().login_limits,
            )
        except (ValidationFailed, TooManyAttempts) as exc:
            errors, status = p.merged(_errors(exc)), exc.status
        else:
            return redirect(url_for("accounts.profile", user_id=user_id, saved=1), 303)
    return await render(
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
@auth.login_required
async def change_password(user_id: int) -> ResponseReturnValue:
    user = auth.require_user()
    if user.id != user_id:
        raise Forbidden("You can only change your own password.")
    posted = await request.form
    try:
        p = forms.Parser(posted)
        for name in ("current_password", "new_password"):
            p.parse(
                name,
                forms.secret_field,
                posted.get(name),
                max_len=PASSWORD_MAX,
                label="The password",
            )
        p.check()
        user = await accounts.change_password(
            user,
            posted.get("current_password", ""),
            posted.get("new_password", ""),
            now=services().now(),
            ip=auth.client_ip(),
            limits=services().login_limits,
        )
    except (ValidationFailed, TooManyAttempts) as exc:
        account = await accounts.get_profile(user, user_id)
        return await render(
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
