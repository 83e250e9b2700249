"""The web layer's parsers: form strings -> the typed values the domain takes, and the
domain's field paths -> the form's inputs."""

from __future__ import annotations

import pytest

from domain import routes
from domain.enums import BusKind, Gender
from domain.errors import ValidationFailed
from views import forms


def test_choices_are_enum_members_or_a_readable_error():
    assert forms.choice_field(" Sleeper ", BusKind, name="kind") is BusKind.SLEEPER
    assert forms.optional_choice("", Gender, name="g") is None
    with pytest.raises(ValidationFailed) as caught:
        forms.choice_field("boat", BusKind, name="kind", message="Choose seater or sleeper.")
    assert caught.value.errors == {"kind": "Choose seater or sleeper."}
    p = forms.Parser({"gender": "robot"})
    assert p.optional_choice("gender", Gender) is None and "gender" in p.errors


def test_the_route_textarea_becomes_stop_lines():
    text = "Mumbai | 0 | 0 | Dadar; Sion\n\n  pune|210|148"
    assert forms.stop_lines(text) == [
        routes.StopLine("Mumbai", 0, 0, ["Dadar", "Sion"]),
        routes.StopLine("pune", 210, 148, []),
    ]
    with pytest.raises(ValidationFailed) as caught:
        forms.stop_lines("Mumbai | 0\nPune | x | 1\nGoa | ² | 3")
    assert caught.value.errors["stops"] == (
        "Line 1: write City | minutes | km | points; line 2: minutes and km must be whole "
        "numbers; line 3: minutes and km must be whole numbers."
    )


def test_domain_stop_paths_become_one_message_by_line():
    with pytest.raises(ValidationFailed) as caught:
        routes.check_stops(forms.stop_lines("Mumbai | 5 | 0\nPune | 210 | 148\nGoa | 100 | 9"))
    assert set(caught.value.errors) == {"stops[0].minutes", "stops[2].minutes"}
    shown = forms.stop_errors(caught.value.errors | {"code": "Give the route a short code."})
    assert shown == {
        "code": "Give the route a short code.",
        "stops": "Line 1: the first stop is the origin: 0 minutes and 0 km; line 3: must come "
        "later and farther than Pune: stops are in travel order.",
    }


def test_domain_paths_are_renamed_to_inputs():
    errors = {"passengers[1].age": "Enter an age.", "contact_email": "Enter the email."}
    names = {"passengers[1].age": "passenger-41-age"}
    assert forms.input_errors(errors, names) == {
        "passenger-41-age": "Enter an age.",
        "contact_email": "Enter the email.",
    }


def test_segment_stops_are_whole_numbers_or_absent():
    assert forms.segment_stops(None, "") == (None, None)
    assert forms.segment_stops("1", "2") == (1, 2)
    for bad in ("x", "-1", "²", "9" * 20):
        with pytest.raises(ValidationFailed) as caught:
            forms.segment_stops(bad, None)
        assert caught.value.errors == {"from": "Choose a stop of this route."}
