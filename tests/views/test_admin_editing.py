"""The console's editing screens: a bus's editor (saved values, saving twice, its operator,
a preview that names the wrong field) and a trip's departure and fare."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from domain.models import ActivityLog, Bus, Operator, Schedule, Seat
from tests import factories


@pytest.fixture
async def admin(app, auth):
    await factories.make_user("ops@example.com", "ops-password-1", admin=True)
    actions = type(auth)(app.test_client())
    await actions.login("ops@example.com", "ops-password-1")
    return actions


@pytest.fixture
async def operators():
    return [
        await Operator.create(name="Sahyadri Travels"),
        await Operator.create(name="Konkan Express"),
    ]


def bus_form(operator: Operator, **overrides: str) -> dict[str, str]:
    return {
        "name": "Volvo 9600",
        "registration": "mh-12-ab-4321",
        "operator_id": str(operator.id),
        "kind": "sleeper",
        "is_ac": "on",
        "rows": "6",
        "columns": "3",
        "aisle_after": "1",
        **overrides,
    }


async def test_a_saved_bus_comes_back_filled_in_and_saving_it_again_changes_nothing(
    admin, operators
):
    konkan = operators[1]
    created = await admin.post("/admin/buses", bus_form(konkan))
    assert created.status_code == 303
    bus = await Bus.get(registration="MH-12-AB-4321")
    assert bus.operator_id == konkan.id
    assert created.headers["Location"] == f"/admin/buses/{bus.id}?saved=created"
    page = await (await admin.client.get(created.headers["Location"])).get_data(as_text=True)
    assert "Bus MH-12-AB-4321 added." in page
    for name, kind, value in (("name", "text", "Volvo 9600"), ("rows", "number", "6")):
        assert f'name="{name}" type="{kind}" value="{value}"' in page
    assert f'<option value="{konkan.id}" selected>Konkan Express</option>' in page
    assert '<option value="sleeper" selected>' in page and 'name="is_ac" checked' in page
    assert "36 seats" in page  # the preview of the saved layout
    audit_rows = await ActivityLog.filter(subject_type="Bus").count()

    # The same form sent again: a success that changes nothing and writes no audit row.
    again = await admin.post(f"/admin/buses/{bus.id}", bus_form(konkan))
    assert again.status_code == 303
    assert again.headers["Location"].endswith("saved=unchanged")
    told = await (await admin.client.get(again.headers["Location"])).get_data(as_text=True)
    assert "Nothing to save: bus MH-12-AB-4321 is as it was." in told
    assert await ActivityLog.filter(subject_type="Bus").count() == audit_rows
    assert await Bus.all().count() == 1

    # A change is saved and audited, with what changed.
    changed = await admin.post(
        f"/admin/buses/{bus.id}", bus_form(operators[0], name="Volvo B11R", rows="7")
    )
    assert changed.headers["Location"].endswith("saved=changed")
    bus = await Bus.get(id=bus.id)
    assert (bus.name, bus.rows, bus.operator_id) == ("Volvo B11R", 7, operators[0].id)
    assert await Seat.filter(bus_id=bus.id).count() == 42
    log = await ActivityLog.get(action="bus.updated")
    assert log.data["changed"]["rows"] == {"before": 6, "after": 7}
    assert log.data["changed"]["operator_id"]["after"] == operators[0].id


async def test_the_bus_form_offers_the_operators_and_refuses_an_unknown_one(admin, operators):
    page = await (await admin.client.get("/admin/buses")).get_data(as_text=True)
    assert '<label for="f-operator_id">Operator</label>' in page
    assert '<option value="">Choose…</option>' in page
    assert ">Konkan Express</option>" in page and ">Sahyadri Travels</option>" in page
    for value, status in (("", 422), ("99999", 422), ("abc", 422)):
        refused = await admin.post("/admin/buses", bus_form(operators[0], operator_id=value))
        assert refused.status_code == status
        html = await refused.get_data(as_text=True)
        assert 'id="f-operator_id-error">Choose the bus&#39;s operator from the list.' in html
    assert not await Bus.exists()


async def test_the_layout_preview_names_the_field_that_is_wrong(admin):
    preview = await admin.client.get(
        "/admin/buses/preview?kind=seater&rows=10&columns=9&aisle_after=2",
        headers={"HX-Request": "true"},
    )
    html = await preview.get_data(as_text=True)
    assert preview.status_code == 200 and html.lstrip().startswith('<section id="layout-preview"')
    assert '<a href="#f-columns">Seats per row</a>: enter a whole number from 1 to 6.' in html
    between = await admin.client.get(
        "/admin/buses/preview?kind=seater&rows=10&columns=4&aisle_after=4",
        headers={"HX-Request": "true"},
    )
    assert (
        '<a href="#f-aisle_after">Aisle after seat</a>: the aisle must run between two '
        "columns of seats."
    ) in await between.get_data(as_text=True)
    # A wrong registration does not hide the preview of a good layout.
    page = await admin.post("/admin/buses", {"name": "", "rows": "2", "columns": "4"})
    assert page.status_code == 422 and "8 seats" in await page.get_data(as_text=True)


async def test_a_bus_in_service_keeps_its_layout_but_changes_its_name(admin, settings):
    trip = await factories.make_trip(datetime.now(settings.tz) + timedelta(days=1), rows=2)
    bus = await Bus.get(id=trip.bus_id)
    form = {
        "name": "Renamed",
        "registration": bus.registration,
        "operator_id": str(bus.operator_id),
        "kind": bus.kind.value,
        "is_ac": "on" if bus.is_ac else "",
        "rows": str(bus.rows),
        "columns": str(bus.columns),
        "aisle_after": str(bus.aisle_after),
    }
    assert (await admin.post(f"/admin/buses/{bus.id}", form)).status_code == 303
    assert (await Bus.get(id=bus.id)).name == "Renamed"
    refused = await admin.post(f"/admin/buses/{bus.id}", {**form, "rows": str(bus.rows + 1)})
    assert refused.status_code == 409
    html = await refused.get_data(as_text=True)
    assert 'value="Renamed"' in html and f'value="{bus.rows + 1}"' in html  # kept as typed
    assert (await Bus.get(id=bus.id)).rows == bus.rows
    missing = await admin.client.get("/admin/buses/99999")
    assert missing.status_code == 404


async def test_a_trips_departure_and_fare_change_from_its_page(admin, settings):
    departure = (datetime.now(settings.tz) + timedelta(days=3)).replace(
        hour=6, minute=0, second=0, microsecond=0
    )
    trip = await factories.make_trip(departure, rows=2)
    page = await (await admin.client.get(f"/admin/schedules/{trip.id}")).get_data(as_text=True)
    day = departure.date().isoformat()
    assert f'name="departure_date" type="date" value="{day}"' in page
    assert 'name="departure_time" type="time" value="06:00"' in page
    assert 'name="base_fare" type="number" value="650.00"' in page
    form = {"departure_date": day, "departure_time": "06:00", "base_fare": "650"}
    same = await admin.post(f"/admin/schedules/{trip.id}", form)
    assert same.headers["Location"].endswith("saved=unchanged")
    assert not await ActivityLog.filter(action="schedule.updated").exists()
    moved = await admin.post(
        f"/admin/schedules/{trip.id}", {**form, "departure_time": "07:30", "base_fare": "700"}
    )
    assert moved.status_code == 303 and moved.headers["Location"].endswith("saved=changed")
    saved = await Schedule.get(id=trip.id)
    assert saved.departure_at == departure + timedelta(minutes=90)
    assert saved.base_fare == 700
    told = await (await admin.client.get(moved.headers["Location"])).get_data(as_text=True)
    assert "Trip saved." in told
    bad = await admin.post(f"/admin/schedules/{trip.id}", {**form, "departure_time": "25:00"})
    assert bad.status_code == 422
    assert 'id="f-departure_time-error">Enter the departure time as HH:MM.' in (
        await bad.get_data(as_text=True)
    )
