"""The console's API keys (admin only): make one (its secret is shown once, on the page
that answers the form, and never again), see every key with its last use, revoke one."""

from __future__ import annotations

from typing import Any

from quart import Blueprint, redirect, request, url_for
from quart.typing import ResponseReturnValue

from domain import api_keys
from domain.errors import ValidationFailed
from domain.models import ApiKey
from views import auth, paging
from views.admin import admin_required
from views.rendering import render
from views.services import services

blueprint = Blueprint("admin_api_keys", __name__, url_prefix="/admin/api-keys")


async def _key_list() -> dict[str, Any]:
    page = await api_keys.key_page(paging.window("api-keys", (paging.moment, paging.whole)))
    return {"keys": page, "keys_pager": paging.pager("api-keys", page)}


async def _page(
    *,
    status: int = 200,
    name: str = "",
    errors: dict[str, str] | None = None,
    created: ApiKey | None = None,
    secret: str = "",
) -> ResponseReturnValue:
    return await render(
        "pages/admin/api_keys.html",
        status=status,
        **await _key_list(),
        name=name,
        errors=errors or {},
        created=created,
        secret=secret,
        message=request.args.get("message", ""),
    )


@blueprint.get("")
@admin_required
async def list_api_keys() -> ResponseReturnValue:
    return await _page()


@blueprint.post("")
@admin_required
async def create_api_key() -> ResponseReturnValue:
    """Answered with the page itself, not a redirect: the secret must not travel in a URL
    or sit in the session to be shown after one (the page is no-store, like the console)."""
    admin = auth.require_user()
    form = await request.form
    name = form.get("name", "")
    try:
        key, secret = await api_keys.create_api_key(
            admin, name, now=services().now(), ip=auth.client_ip()
        )
    except ValidationFailed as exc:
        return await _page(status=exc.status, name=name, errors=exc.errors)
    return await _page(status=201, created=key, secret=secret)


@blueprint.post("/<int:key_id>/revoke")
@admin_required
async def revoke_api_key(key_id: int) -> ResponseReturnValue:
    admin = auth.require_user()
    key = await api_keys.revoke_api_key(admin, key_id, now=services().now(), ip=auth.client_ip())
    message = f"The key {key.name} (bbk_{key.prefix}_…) is revoked: it no longer signs anyone in."
    return redirect(url_for("admin_api_keys.list_api_keys", message=message), 303)
