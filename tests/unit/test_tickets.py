"""Ticket numbers, signed QR and download tokens, the QR code and the one-page PDF.

No database: everything here is pure functions plus WeasyPrint.
"""

from __future__ import annotations

import io
import random
import re
import string
import urllib.request
import xml.etree.ElementTree as ET
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from jinja2 import Environment, FileSystemLoader, select_autoescape
from pypdf import PdfReader

from domain import ticket_documents, ticket_tokens
from domain.settings import PROJECT_ROOT
from domain.ticket_documents import qr_svg, render_pdf, render_pdf_async
from domain.ticket_tokens import (
    ALPHABET,
    DownloadStatus,
    QrPayload,
    booking_reference,
    download_token,
    qr_token,
    read_download_token,
    read_qr_token,
    ticket_number,
)

SECRET = "test-secret-key-" + "x" * 32
NOW = datetime(2026, 11, 25, 12, 30, tzinfo=UTC)
TEMPLATES = PROJECT_ROOT / "templates"
ROUTE = "Mumbai \N{EN DASH} Pune Express"  # the typographic dash a real route name has


# ----------------------------------------------------------------------------- identifiers


def test_alphabet_has_no_look_alikes():
    assert len(ALPHABET) == len(set(ALPHABET)) == 32
    assert not set("0O1I") & set(ALPHABET)
    assert set(ALPHABET) <= set(string.ascii_uppercase + string.digits)


def test_ticket_numbers_have_the_shape_and_do_not_repeat():
    numbers = [ticket_number() for _ in range(5000)]
    for number in numbers:
        assert re.fullmatch(r"TK-[23456789ABCDEFGHJKLMNPQRSTUVWXYZ]{8}", number), number
    assert len(set(numbers)) == len(numbers)  # 40 bits: a repeat here is ~1 in 90,000
    assert set("".join(n[3:] for n in numbers)) == set(ALPHABET)  # every symbol is used


def test_booking_references_have_the_shape_and_rarely_repeat():
    references = [booking_reference() for _ in range(2000)]
    for reference in references:
        assert re.fullmatch(r"BK[23456789ABCDEFGHJKLMNPQRSTUVWXYZ]{6}", reference), reference
        assert len(reference) <= 12  # Booking.reference column
    # 30 bits: one repeat in 2000 draws happens ~0.2% of runs, two almost never. The
    # database's unique constraint makes the caller draw again.
    assert len(set(references)) >= len(references) - 1


def test_a_seeded_rng_gives_reproducible_identifiers():
    first = (ticket_number(random.Random(7)), booking_reference(random.Random(7)))
    again = (ticket_number(random.Random(7)), booking_reference(random.Random(7)))
    assert first == again
    assert ticket_tokens.TICKET_NUMBER_RE.fullmatch(first[0])
    assert ticket_tokens.BOOKING_REFERENCE_RE.fullmatch(first[1])


# ----------------------------------------------------------------------------- QR token


def make_qr(**overrides: Any) -> str:
    fields: dict[str, Any] = {
        "ticket_number": "TK-7F3K9Q2M",
        "booking_reference": "BK7F3K9Q",
        "schedule_id": 42,
    } | overrides
    return qr_token(SECRET, **fields)


def test_qr_token_round_trips_and_is_compact_and_url_safe():
    token = make_qr()
    assert read_qr_token(SECRET, token) == QrPayload("TK-7F3K9Q2M", "BK7F3K9Q", 42)
    assert len(token) < 120
    assert re.fullmatch(r"[A-Za-z0-9._-]+", token)
    # The largest ids still fit comfortably.
    big = make_qr(ticket_number="TK-" + "W" * 17, booking_reference="B" * 12, schedule_id=2**62)
    assert len(big) < 120
    assert read_qr_token(SECRET, big) == QrPayload("TK-" + "W" * 17, "B" * 12, 2**62)


def test_qr_token_is_deterministic_and_bound_to_its_fields():
    assert make_qr() == make_qr()
    assert make_qr() != make_qr(schedule_id=43)
    assert make_qr() != make_qr(booking_reference="BK7F3K9R")


def flip(char: str) -> str:
    return "A" if char != "A" else "B"


def test_tampered_qr_tokens_are_refused():
    token = make_qr()
    # Change the schedule id, keep the signature.
    assert read_qr_token(SECRET, token.replace(".42.", ".43.")) is None
    # Change any single character, anywhere.
    for index in range(len(token)):
        tampered = token[:index] + flip(token[index]) + token[index + 1 :]
        assert read_qr_token(SECRET, tampered) is None, index
    # Another secret's token.
    assert read_qr_token("another-secret", token) is None
    # Drop or add a field, re-using the signature.
    message, _, signature = token.rpartition(".")
    assert read_qr_token(SECRET, f"{message}.7.{signature}") is None
    assert read_qr_token(SECRET, token + "A") is None


@pytest.mark.parametrize(
    "garbage",
    [
        "",
        ".",
        "....",
        "1.TK-7F3K9Q2M.BK7F3K9Q.42",
        "1.TK-7F3K9Q2M.BK7F3K9Q.42.",
        "not a token",
        "1.TK-7F3K9Q2M.BK7F3K9Q.42." + "é" * 43,
        "x" * 10_000,
        "\x00\x01\x02",
        None,
        42,
        b"1.TK-7F3K9Q2M",
    ],
)
def test_garbage_is_not_a_qr_token(garbage: Any):
    assert read_qr_token(SECRET, garbage) is None


def test_a_signed_but_malformed_payload_is_refused():
    """Even correctly signed content must have the right shape (defence in depth)."""
    key = ticket_tokens._subkey(SECRET, ticket_tokens._QR_PURPOSE)
    for fields in (
        ("1", "TK-7F3K9Q2M", "BK7F3K9Q", "0"),
        ("1", "TK-7F3K9Q2M", "BK7F3K9Q", "-4"),
        ("1", "TK-7F3K9Q2M", "BK7F3K9Q", " 42"),
        ("1", "TK 7F3K9Q2M", "BK7F3K9Q", "42"),
        ("2", "TK-7F3K9Q2M", "BK7F3K9Q", "42"),
    ):
        assert read_qr_token(SECRET, ticket_tokens._sign(key, *fields)) is None, fields


@pytest.mark.parametrize(
    "bad",
    [
        {"ticket_number": "TK.7F3K9Q2M"},
        {"ticket_number": ""},
        {"ticket_number": "T" * 21},
        {"booking_reference": "BK 7F3K9Q"},
        {"schedule_id": 0},
        {"schedule_id": True},
        {"schedule_id": 2**63},
        {"schedule_id": "42"},
    ],
)
def test_qr_token_refuses_fields_it_cannot_encode(bad: dict[str, Any]):
    with pytest.raises(ValueError):
        make_qr(**bad)


def test_an_empty_secret_is_a_configuration_error():
    with pytest.raises(ValueError):
        qr_token("", ticket_number="TK-7F3K9Q2M", booking_reference="BK7F3K9Q", schedule_id=1)


# ----------------------------------------------------------------------------- download link


def test_download_token_is_valid_until_expires_at_then_expired():
    expires_at = NOW + timedelta(days=7)
    token = download_token(SECRET, "TK-7F3K9Q2M", expires_at=expires_at)
    assert re.fullmatch(r"[A-Za-z0-9._-]+", token)

    for now in (NOW, expires_at - timedelta(microseconds=1)):
        check = read_download_token(SECRET, token, now=now)
        assert check.status is DownloadStatus.VALID and check.is_valid
        assert check.ticket_number == "TK-7F3K9Q2M"
        assert check.expires_at == expires_at

    for now in (
        expires_at,
        expires_at + timedelta(microseconds=1),
        expires_at + timedelta(days=400),
    ):
        check = read_download_token(SECRET, token, now=now)
        assert check.status is DownloadStatus.EXPIRED and check.is_expired and not check.is_valid
        # An expired link still says which ticket it was for, so a page can offer a new one.
        assert check.ticket_number == "TK-7F3K9Q2M"


def test_download_expiry_compares_instants_not_wall_times():
    kolkata = timezone(timedelta(hours=5, minutes=30))
    expires_at = datetime(2026, 11, 25, 18, 0, tzinfo=kolkata)  # 12:30 UTC
    token = download_token(SECRET, "TK-7F3K9Q2M", expires_at=expires_at)
    assert read_download_token(SECRET, token, now=NOW - timedelta(seconds=1)).is_valid
    assert read_download_token(SECRET, token, now=NOW).is_expired
    assert read_download_token(SECRET, token, now=NOW).expires_at == NOW


def test_naive_datetimes_are_refused():
    with pytest.raises(ValueError):
        download_token(SECRET, "TK-7F3K9Q2M", expires_at=datetime(2026, 11, 25, 12, 0))
    token = download_token(SECRET, "TK-7F3K9Q2M", expires_at=NOW)
    with pytest.raises(ValueError):
        read_download_token(SECRET, token, now=datetime(2026, 11, 25, 12, 0))


def test_tampered_or_foreign_download_tokens_are_invalid():
    expires_at = NOW + timedelta(days=7)
    token = download_token(SECRET, "TK-7F3K9Q2M", expires_at=expires_at)
    _, number, micros, _signature = token.split(".")

    later = str(int(micros) + 10**12)
    extended = token.replace(f".{micros}.", f".{later}.")
    other_ticket = token.replace(number, "TK-7F3K9Q2N")
    for bad in (
        extended,
        other_ticket,
        token[:-1] + flip(token[-1]),
        token + "A",
        "",
        "garbage",
        "1.TK-7F3K9Q2M.99999999999999999999999999.x",
        None,
    ):
        check = read_download_token(SECRET, bad, now=NOW)  # type: ignore[arg-type]
        assert check.status is DownloadStatus.INVALID, bad
        assert check.ticket_number is None and not check.is_valid and not check.is_expired

    assert read_download_token("another-secret", token, now=NOW).status is DownloadStatus.INVALID
    # A tampered token is invalid even once its (claimed) time is up.
    far_future = expires_at + timedelta(days=1)
    assert read_download_token(SECRET, extended, now=far_future).status is DownloadStatus.INVALID


def test_qr_and_download_tokens_are_not_interchangeable():
    qr = make_qr()
    assert read_download_token(SECRET, qr, now=NOW).status is DownloadStatus.INVALID

    # Even a download token shaped exactly like a QR token's fields does not pass as one,
    # and vice versa: the two purposes sign with different derived keys.
    download = download_token(SECRET, "TK-7F3K9Q2M", expires_at=NOW + timedelta(days=1))
    assert read_qr_token(SECRET, download) is None
    qr_key = ticket_tokens._subkey(SECRET, ticket_tokens._QR_PURPOSE)
    download_key = ticket_tokens._subkey(SECRET, ticket_tokens._DOWNLOAD_PURPOSE)
    assert qr_key != download_key
    forged = ticket_tokens._sign(qr_key, "1", "TK-7F3K9Q2M", str(10**16))
    assert read_download_token(SECRET, forged, now=NOW).status is DownloadStatus.INVALID


# ----------------------------------------------------------------------------- QR code


def test_qr_svg_is_an_inline_svg_with_a_view_box():
    svg = qr_svg(make_qr())
    assert svg.startswith("<svg") and svg.rstrip().endswith("</svg>")
    assert "<?xml" not in svg
    root = ET.fromstring(svg)
    assert root.tag == "{http://www.w3.org/2000/svg}svg"
    view_box = root.get("viewBox")
    assert view_box is not None
    x, y, width, height = (float(part) for part in view_box.split())
    assert (x, y) == (0, 0) and width == height and width >= 21 + 8  # version 1 + quiet zone
    assert root.get("width") is None and root.get("height") is None  # CSS sizes it
    paths = root.findall("{http://www.w3.org/2000/svg}path")
    assert len(paths) == 1 and paths[0].get("d") and paths[0].get("id") is None


def test_qr_svg_draws_exactly_the_modules_qrcode_computed():
    """The path is redrawn as runs of modules; it must cover the same squares."""
    import qrcode

    data = make_qr()
    code = qrcode.QRCode(error_correction=qrcode.constants.ERROR_CORRECT_M, border=0)
    code.add_data(data)
    code.make(fit=True)
    size = code.modules_count
    border = ticket_documents.QR_BORDER

    path = ET.fromstring(qr_svg(data)).find("{http://www.w3.org/2000/svg}path")
    assert path is not None
    drawn = [[False] * size for _ in range(size)]
    for x, y, width, back in re.findall(r"M(\d+),(\d+)h(\d+)v1h-(\d+)z", path.get("d", "")):
        assert width == back
        for column in range(int(x), int(x) + int(width)):
            assert not drawn[int(y) - border][column - border], "a module drawn twice"
            drawn[int(y) - border][column - border] = True
    assert drawn == [[bool(cell) for cell in row] for row in code.modules]


def test_qr_svg_uses_error_correction_m():
    import qrcode

    data = make_qr()
    code = qrcode.QRCode(error_correction=qrcode.constants.ERROR_CORRECT_M, border=4)
    code.add_data(data)
    code.make(fit=True)
    modules = code.modules_count + 8
    assert f'viewBox="0 0 {modules} {modules}"' in qr_svg(data)


# ----------------------------------------------------------------------------- PDF


PASSENGERS = [
    {"name": "Priya Sharma", "age": 31, "gender": "female", "seat": "L3", "fare_text": "₹ 683"},
    {"name": "Rahul Venkataraman", "age": 34, "gender": "male", "seat": "L4", "fare_text": "₹ 683"},
    {"name": "Ananya Iyer", "age": 8, "gender": "female", "seat": "L5", "fare_text": "₹ 650"},
    {"name": "Mohammed Farhan", "age": 62, "gender": "male", "seat": "L6", "fare_text": "₹ 650"},
]


def ticket_context(**overrides: Any) -> dict[str, Any]:
    number, reference = "TK-7F3K9Q2M", "BK7F3K9Q"
    token = qr_token(SECRET, ticket_number=number, booking_reference=reference, schedule_id=42)
    return {
        "ticket_number": number,
        "booking_reference": reference,
        "status": "valid",
        "route_name": ROUTE,
        "operator": "Sahyadri Travels",
        "bus_type": "AC Sleeper 2+1",
        "origin_city": "Mumbai",
        "boarding_point": "Dadar TT Circle",
        "departs_at_text": "Thu 26 Nov 2026, 07:30",
        "destination_city": "Pune",
        "dropping_point": "Swargate Bus Stand",
        "arrives_at_text": "Thu 26 Nov 2026, 11:15",
        "passengers": PASSENGERS,
        "total_text": "INR 2,666.00",
        "qr_svg": qr_svg(token),
        "issued_at_text": "Wed 25 Nov 2026, 18:02 IST",
        "support_phone": "+91 20 4000 1234",
        "fonts_url": ticket_documents.FONTS_URL,
    } | overrides


@pytest.fixture(scope="module")
def env() -> Environment:
    return Environment(loader=FileSystemLoader(TEMPLATES), autoescape=select_autoescape())


def render_html(env: Environment, **overrides: Any) -> str:
    return env.get_template("tickets/ticket_pdf.html").render(**ticket_context(**overrides))


def pdf_pages(pdf: bytes) -> list[str]:
    assert pdf.startswith(b"%PDF-")
    return [page.extract_text() for page in PdfReader(io.BytesIO(pdf)).pages]


@pytest.fixture(scope="module")
def ticket_pdf(env: Environment) -> bytes:
    return render_pdf(render_html(env))


def test_ticket_pdf_is_one_page_with_the_ticket_and_every_passenger(ticket_pdf: bytes):
    pages = pdf_pages(ticket_pdf)
    assert len(pages) == 1
    text = pages[0]
    for expected in (
        "TK-7F3K9Q2M",
        "BK7F3K9Q",
        ROUTE,
        "Sahyadri Travels",
        "Dadar TT Circle",
        "Swargate Bus Stand",
        "Thu 26 Nov 2026, 07:30",
        "INR 2,666.00",
        "90%",
    ):
        assert expected in text, expected
    for passenger in PASSENGERS:
        assert passenger["name"] in text


def test_ticket_html_is_self_contained_and_escaped(env: Environment):
    html = render_html(env, route_name="<script>alert(1)</script>")
    assert "<script>" not in html and "&lt;script&gt;" in html
    assert not re.search(r"""(src|href)=["']?(https?:)?//""", html)
    assert "@import" not in html
    # The only URLs are the shipped fonts' files.
    urls = re.findall(r"url\(([^)]*)\)", html)
    assert urls and all(u.strip("\"'").startswith(ticket_documents.FONTS_URL + "/") for u in urls)
    assert "<svg" in html and "viewBox" in html  # the QR code went in unescaped


def test_a_cancelled_ticket_says_so(env: Environment):
    passengers = [*PASSENGERS[:1], {**PASSENGERS[1], "status": "cancelled"}]
    html = render_html(env, status="cancelled", passengers=passengers)
    assert "not valid for travel" in html
    assert 'class="cancelled"' in html


def test_worst_case_content_still_fits_one_page(env: Environment):
    """Six passengers and every text at its model's maximum length, in wide letters."""

    def wide(length: int) -> str:
        return ("Mwmwamb " * length)[:length]

    passengers = [
        {"name": wide(120), "age": 100, "gender": "other", "seat": "U12", "fare_text": "₹ 99,999"}
        for _ in range(6)
    ]
    html = render_html(
        env,
        status="cancelled",
        route_name=wide(160),
        operator=wide(120),
        bus_type=wide(120),
        origin_city=wide(80),
        destination_city=wide(80),
        boarding_point=wide(120),
        dropping_point=wide(120),
        departs_at_text="Wednesday 30 September 2026, 23:45",
        arrives_at_text="Wednesday 30 September 2026, 23:45",
        passengers=passengers,
        total_text="INR 5,99,994.00",
        support_email="help@busbook.example",
        timezone_text="All times are local (Asia/Kolkata).",
    )
    pages = pdf_pages(render_pdf(html))
    assert len(pages) == 1
    assert "TK-7F3K9Q2M" in pages[0] and "INR 5,99,994.00" in pages[0]


def test_network_resources_are_never_fetched(env: Environment, monkeypatch: pytest.MonkeyPatch):
    opened: list[Any] = []
    original = urllib.request.OpenerDirector.open

    def spy(self: Any, url: Any, *args: Any, **kwargs: Any) -> Any:
        opened.append(getattr(url, "full_url", url))
        return original(self, url, *args, **kwargs)

    monkeypatch.setattr(urllib.request.OpenerDirector, "open", spy)
    html = render_html(env).replace(
        "</body>",
        '<img src="http://127.0.0.1:9/tracker.png" alt="">'
        '<link rel="stylesheet" href="https://example.invalid/x.css"></body>',
    )
    assert len(pdf_pages(render_pdf(html))) == 1
    assert opened and all(str(url).startswith(ticket_documents.FONTS_URL + "/") for url in opened)


def test_inline_styles_apply_every_time_they_are_reused():
    """render_pdf parses a <style> once and reuses it: rules, @page included, must still
    apply, and inline style attributes must still win over them."""
    html = (
        "<html><head><style>@page { size: A5; margin: 10mm } p { font-size: 40pt }</style>"
        "</head><body><p>One</p><p style='page-break-before: always'>Two</p></body></html>"
    )
    for _ in range(2):
        reader = PdfReader(io.BytesIO(render_pdf(html)))
        assert len(reader.pages) == 2
        box = reader.pages[0].mediabox
        assert (round(float(box.width)), round(float(box.height))) == (420, 595)  # A5 in pt

    # A document with other CSS besides plain <style> blocks is rendered as it is.
    assert ticket_documents._split_styles(html)[1] == [
        "@page { size: A5; margin: 10mm } p { font-size: 40pt }"
    ]
    linked = html.replace("<head>", "<head><link rel='stylesheet' href='data:text/css,p{}'>")
    in_body = html.replace("<p>One</p>", "<style>p { color: red }</style><p>One</p>")
    for other in (linked, in_body, "<style>p {}</style><p>no head end</p>"):
        assert ticket_documents._split_styles(other) == (other, [])


async def test_render_pdf_async_gives_the_same_document(env: Environment):
    pdf = await render_pdf_async(render_html(env))
    pages = pdf_pages(pdf)
    assert len(pages) == 1 and "TK-7F3K9Q2M" in pages[0]


# ------------------------------------------------------------- Indian scripts (issue 12)

INDIAN_NAMES = {
    "Devanagari": "अनीता देवी",
    "Tamil": "முருகன் செல்வம்",
    "Bengali": "সৌমিত্র বসু",
}


def _to_unicode(font: Any) -> dict[int, str]:
    """A PDF font's ToUnicode CMap: character code (here the glyph id) -> its text."""
    data = font["/ToUnicode"].get_object().get_data().decode("latin-1")
    codes: dict[int, str] = {}

    def text(hexes: str) -> str:
        return bytes.fromhex(hexes).decode("utf-16-be")

    for block in re.findall(r"beginbfchar(.*?)endbfchar", data, re.DOTALL):
        for code, value in re.findall(r"<([0-9a-fA-F]+)>\s*<([0-9a-fA-F]*)>", block):
            codes[int(code, 16)] = text(value)
    for block in re.findall(r"beginbfrange(.*?)endbfrange", data, re.DOTALL):
        for lo, hi, value in re.findall(
            r"<([0-9a-fA-F]+)>\s*<([0-9a-fA-F]+)>\s*<([0-9a-fA-F]+)>", block
        ):
            start = int(value, 16)
            for offset, code in enumerate(range(int(lo, 16), int(hi, 16) + 1)):
                codes[code] = chr(start + offset)
    return codes


def embedded_glyphs(pdf: bytes) -> dict[str, set[str]]:
    """For each font embedded in the PDF (by base name, subset tag dropped), the characters
    its drawn glyphs stand for, counting only glyphs with an outline in the embedded font
    program: a missing glyph (.notdef, the box) or an empty one counts for nothing."""
    from fontTools.ttLib import TTFont

    found: dict[str, set[str]] = {}
    for page in PdfReader(io.BytesIO(pdf)).pages:
        for font in page["/Resources"]["/Font"].values():
            font = font.get_object()
            # WeasyPrint replaces glyphs a font lacks with .notdef through a custom CMap
            # ("WP-Encod"): with every glyph present it writes Identity-H.
            assert font["/Encoding"] == "/Identity-H", font["/BaseFont"]
            descendant = font["/DescendantFonts"][0].get_object()
            program = descendant["/FontDescriptor"]["/FontFile2"].get_object().get_data()
            ttf = TTFont(io.BytesIO(program))
            order = ttf.getGlyphOrder()
            glyf = ttf["glyf"]
            chars = found.setdefault(str(font["/BaseFont"]).split("+", 1)[-1], set())
            for gid, value in _to_unicode(font).items():
                glyph = glyf[order[gid]]
                if gid != 0 and (glyph.isComposite() or glyph.numberOfContours > 0):
                    chars.update(value)
    return found


def test_names_in_indian_scripts_print_in_the_shipped_fonts(env: Environment):
    """Devanagari, Tamil and Bengali names come out as text in the shipped Noto fonts, with a
    real glyph for every letter (no missing-glyph box), whatever fonts the host has."""
    passengers = [
        {**PASSENGERS[i % len(PASSENGERS)], "name": name}
        for i, name in enumerate(INDIAN_NAMES.values())
    ]
    pdf = render_pdf(render_html(env, passengers=passengers))
    text = pdf_pages(pdf)[0]
    for name in INDIAN_NAMES.values():
        assert name in text, name
    glyphs = embedded_glyphs(pdf)
    assert all(family.startswith("Noto-Sans") for family in glyphs), sorted(glyphs)
    for script, name in INDIAN_NAMES.items():
        covering = {c for family, chars in glyphs.items() if script in family for c in chars}
        assert set(name.replace(" ", "")) <= covering, (script, set(name) - covering)
    assert set("Dadar TT Circle".replace(" ", "")) <= glyphs["Noto-Sans"]


def test_only_the_shipped_fonts_are_used():
    """A document naming a host font (DejaVu Sans is installed here) still gets none: the
    PDF set-up knows only the fonts @font-face rules load."""
    html = (
        f"<html><head><style>{ticket_documents.font_face_css()}"
        " p { font-family: 'DejaVu Sans' } b { font-family: 'Noto Sans' }</style></head>"
        "<body><p>Host font?</p><p><b>बसबुक</b> <b>Busbook</b></p></body></html>"
    )
    pdf = render_pdf(html)
    fonts = embedded_glyphs(pdf)
    assert fonts and all(family.startswith("Noto-Sans") for family in fonts), sorted(fonts)
    assert "बसबुक" in pdf_pages(pdf)[0]


def test_the_shipped_fonts_and_their_licence_are_in_the_repository():
    for _family, stem in ticket_documents.FONT_FACES:
        for weight in ("Regular", "Bold"):
            assert (ticket_documents.FONTS_DIR / f"{stem}-{weight}.ttf").stat().st_size > 10_000
    assert "SIL Open Font License" in (ticket_documents.FONTS_DIR / "OFL.txt").read_text()
    total = sum(f.stat().st_size for f in ticket_documents.FONTS_DIR.glob("*.ttf"))
    assert total < 2_500_000  # subsets, Regular and Bold only
