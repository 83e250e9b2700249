"""`busbook serve` on another port than PUBLIC_BASE_URL's default: the links it hands out
(emails, the payment page) reach that port, and the start-up log says which base URL."""

from __future__ import annotations

from datetime import date, timedelta

import httpx

from tests.faults.conftest import busbook_serve, fresh_database

PASSWORD = "serve-base-2026"


async def test_links_use_the_address_served_when_public_base_url_is_unset(server_url, artifacts):
    url = await fresh_database(server_url, "busbook_serve_base")
    # PUBLIC_BASE_URL empty: development, as `uv run busbook serve --port N` starts.
    async with busbook_serve(url, artifacts / "serve-base-url", env={"PUBLIC_BASE_URL": ""}) as s:
        port = s.base.rsplit(":", 1)[1]
        expected = f"http://localhost:{port}"
        assert f"Emails link to {expected} (the address served" in s.log()
        # A worker hands out links on that port: the simulator's checkout page.
        api = s.base + "/api/v1"
        async with httpx.AsyncClient(timeout=30) as http:
            who = {"email": "serve@example.com", "password": PASSWORD}
            registered = await http.post(
                f"{api}/users/register",
                json={
                    **who,
                    "first_name": "Asha",
                    "last_name": "Rao",
                    "phone_number": "+919812345678",
                },
            )
            assert registered.status_code == 201, registered.text
            token = (await http.post(f"{api}/users/login", json=who)).json()["access_token"]
            bearer = {"Authorization": f"Bearer {token}"}
            day = (date.today() + timedelta(days=1)).isoformat()
            found = await http.get(
                f"{api}/schedules/search",
                params={"origin_city": "Mumbai", "destination_city": "Pune", "date": day},
            )
            schedule = found.json()["schedules"][0]["id"]
            seats = (await http.get(f"{api}/schedules/{schedule}/seats")).json()["seats"]
            seat = next(s["id"] for s in seats if s["status"] == "free")
            hold = await http.post(
                f"{api}/reservations/create",
                json={"schedule_id": schedule, "seat_ids": [seat]},
                headers=bearer,
            )
            assert hold.status_code == 201, hold.text
            paid = await http.post(
                f"{api}/payments/initiate",
                json={
                    "reservation_id": hold.json()["id"],
                    "payment_method": "upi",
                    "amount": hold.json()["total_amount"],
                },
                headers=bearer,
            )
            assert paid.status_code == 201, paid.text
            assert paid.json()["checkout_url"].startswith(expected + "/")


async def test_public_base_url_wins_when_set(server_url, artifacts):
    url = await fresh_database(server_url, "busbook_serve_base")
    env = {"PUBLIC_BASE_URL": "https://busbook.example"}
    async with busbook_serve(url, artifacts / "serve-base-set", demo=False, env=env) as s:
        assert "Emails link to https://busbook.example (PUBLIC_BASE_URL)" in s.log()
