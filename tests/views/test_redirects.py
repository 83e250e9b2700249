"""After login and registration the browser goes back only to a page of this site.

The cases are the ones a browser's (WHATWG) URL parser reads differently from Python's
urlsplit: a backslash is a slash, tabs and newlines vanish, leading controls and spaces are
dropped. Each must end at "/" instead of off-site.
"""

from __future__ import annotations

from urllib.parse import urljoin

import pytest

from tests import factories

OFF_SITE = [
    "https://evil.example/",
    "//evil.example",
    "///evil.example",
    "/\\evil.example",
    "/\\/evil.example",
    "/\\\\evil.example",
    "\\\\evil.example",
    "\\/evil.example",
    "/\t/evil.example",
    "/\n/evil.example",
    "/\r/evil.example",
    "/\r\n/evil.example",
    "/\x00/evil.example",
    "/ /evil.example",
    " //evil.example",
    "\t//evil.example",
    "\x01//evil.example",
    "/%5Cevil.example",  # the form field is not decoded again, but the query string is
    "javascript:alert(1)",
    "evil.example",
    "/schedules/1\r\nSet-Cookie: x=1",
]
# A NUL anywhere in a request is refused before any view runs (views/forms.py).
NUL = "\x00"


def _went_home_or_was_refused(response, target: str) -> None:
    if NUL in target:
        assert response.status_code == 400 and "Location" not in response.headers
    else:
        assert response.status_code == 303
        assert response.headers["Location"] == "/"


SAME_SITE = ["/schedules/7?from=0&to=2", "/reservations", "/bookings/BK2345?x=%2F%2Fy"]


def _resolved_host(location: str) -> str | None:
    """Where a browser would go: the WHATWG rules that matter here (strip leading and
    trailing C0 controls and spaces, drop tab/CR/LF, backslash is a slash), then resolve."""
    cleaned = location.strip("".join(chr(c) for c in range(0x21)))
    cleaned = "".join(ch for ch in cleaned if ch not in "\t\r\n").replace("\\", "/")
    resolved = urljoin("http://localhost/users/login", cleaned)
    return resolved.split("/")[2] if "://" in resolved else None


@pytest.mark.parametrize("target", OFF_SITE)
async def test_login_never_redirects_off_site(auth, target):
    await factories.make_user("rahul@example.com", "right-password")
    token = await auth.csrf()
    response = await auth.client.post(
        "/users/login",
        form={
            "email": "rahul@example.com",
            "password": "right-password",
            "csrf_token": token,
            "next": target,
        },
    )
    _went_home_or_was_refused(response, target)


@pytest.mark.parametrize("target", OFF_SITE)
async def test_register_never_redirects_off_site(auth, target):
    response = await auth.register(next=target)
    _went_home_or_was_refused(response, target)


@pytest.mark.parametrize("target", OFF_SITE)
async def test_login_page_does_not_carry_an_off_site_next(client, target):
    page = await client.get("/users/login", query_string={"next": target})
    if NUL in target:
        assert page.status_code == 400
        return
    assert page.status_code == 200
    assert 'name="next" value=""' in await page.get_data(as_text=True)


@pytest.mark.parametrize("target", SAME_SITE)
async def test_a_page_of_this_site_is_kept(auth, target):
    response = await auth.register(next=target)
    assert response.headers["Location"] == target
    assert _resolved_host(response.headers["Location"]) == "localhost"


def test_the_off_site_cases_really_leave_the_site_in_a_browser():
    """The list is meaningful: most of these leave the site when sent unchanged."""
    leaving = [t for t in OFF_SITE if _resolved_host(t) not in (None, "localhost")]
    assert len(leaving) >= 12


async def test_a_huge_address_does_not_become_a_huge_redirect(client):
    response = await client.get("/bookings", query_string={"q": "\xff" * 20_000})
    assert response.status_code == 302
    location = response.headers["Location"]
    assert len(location) < 200 and location.endswith("next=/bookings")
