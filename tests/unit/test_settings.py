"""Configuration from the environment, and the guard on Tortoise's environment writes."""

from pathlib import Path

import pytest

from domain import database
from domain.settings import Settings, served_base_url


def test_defaults_and_overrides(tmp_path: Path):
    settings = Settings.from_env({"BUSBOOK_VAR_DIR": str(tmp_path)})
    assert (settings.hold_minutes, settings.currency, settings.timezone) == (
        15,
        "INR",
        "Asia/Kolkata",
    )
    assert len(settings.secret_key) > 40
    assert Settings.from_env({"BUSBOOK_VAR_DIR": str(tmp_path)}).secret_key == settings.secret_key
    custom = Settings.from_env(
        {
            "BUSBOOK_VAR_DIR": str(tmp_path),
            "HOLD_MINUTES": "10",
            "TIMEZONE": "Europe/Berlin",
            "PUBLIC_BASE_URL": "https://busbook.example/",
            "SECRET_KEY": "k" * 40,
        }
    )
    assert custom.hold_minutes == 10 and custom.tz.key == "Europe/Berlin"
    assert custom.secure_cookies and custom.public_base_url == "https://busbook.example"


def test_bad_numbers_stop_start_up_with_a_message(tmp_path: Path):
    with pytest.raises(SystemExit, match="HOLD_MINUTES must be a number, got 'ten'"):
        Settings.from_env({"BUSBOOK_VAR_DIR": str(tmp_path), "HOLD_MINUTES": "ten"})
    with pytest.raises(SystemExit, match="SWEEP_SECONDS must be more than 0"):
        Settings.from_env({"BUSBOOK_VAR_DIR": str(tmp_path), "SWEEP_SECONDS": "0"})
    with pytest.raises(SystemExit, match="MAX_SEATS_PER_HOLD must be a whole number"):
        Settings.from_env({"BUSBOOK_VAR_DIR": str(tmp_path), "MAX_SEATS_PER_HOLD": "6.5"})


def test_database_urls_with_sockets_and_ports():
    socket = database.tortoise_config("postgresql://postgres:@/busbook?host=/srv/pg")
    creds = socket["connections"]["default"]["credentials"]
    assert (creds["host"], creds["database"], creds["user"]) == ("/srv/pg", "busbook", "postgres")
    tcp = database.tortoise_config("postgres://app:s%40cret@db.example:6543/prod?maxsize=30")
    creds = tcp["connections"]["default"]["credentials"]
    assert (creds["host"], creds["port"], creds["password"], creds["maxsize"]) == (
        "db.example",
        6543,
        "s@cret",
        30,
    )
    assert creds["server_settings"]["timezone"] == "UTC"


@pytest.mark.parametrize(
    ("host", "port", "expected"),
    [
        ("127.0.0.1", 8080, "http://localhost:8080"),
        ("0.0.0.0", 8000, "http://localhost:8000"),
        ("::", 9000, "http://localhost:9000"),
        ("192.168.1.20", 8080, "http://192.168.1.20:8080"),
        ("busbook.test", 80, "http://busbook.test"),
        ("fe80::1", 8080, "http://[fe80::1]:8080"),
    ],
)
def test_email_links_follow_the_address_served_in_development(host, port, expected):
    assert served_base_url({}, host, port) == (expected, False)
    assert served_base_url({"PUBLIC_BASE_URL": ""}, host, port) == (expected, False)


def test_email_links_use_public_base_url_when_it_is_set():
    env = {"PUBLIC_BASE_URL": "https://busbook.example/"}
    assert served_base_url(env, "127.0.0.1", 8080) == ("https://busbook.example", True)
