"""The ticket as a document: its QR code as SVG and the one-page PDF (WeasyPrint).

Nothing here touches the database or signs anything: callers pass the token to draw and the
HTML to render.
"""

from __future__ import annotations

import asyncio
import atexit
import functools
import logging
import os
import re
import threading
from pathlib import Path
from typing import Any

QR_BORDER = 4  # modules of quiet zone around the code, as the QR standard asks


def _runs_path(modules: list[list[bool]], border: int) -> str:
    """An SVG path drawing each horizontal run of dark modules as one rectangle.

    qrcode's path drawer writes one square per module (~550 subpaths for a ticket token)
    in absolute commands; WeasyPrint parses SVG paths in Python, and that path cost about
    100 ms per ticket PDF. Runs halve the subpaths and use short relative commands: about
    15 ms.
    """
    parts: list[str] = []
    for y, row in enumerate(modules):
        x, width = 0, len(row)
        while x < width:
            if not row[x]:
                x += 1
                continue
            start = x
            while x < width and row[x]:
                x += 1
            parts.append(f"M{start + border},{y + border}h{x - start}v1h-{x - start}z")
    return "".join(parts)


def qr_svg(data: str) -> str:
    """`data` as a QR code (error correction M): one inline `<svg>` element with a viewBox
    and no width/height, so CSS sizes it (give it a width; it is square). Black modules
    on a white background with the standard 4-module quiet zone; no XML declaration.

    Built with qrcode's SVG path image factory (no Pillow); the path is then redrawn as
    runs of modules, which covers the same squares and renders far faster in WeasyPrint.
    """
    import qrcode
    import qrcode.image.svg

    code = qrcode.QRCode(
        error_correction=qrcode.constants.ERROR_CORRECT_M,
        border=QR_BORDER,
        image_factory=qrcode.image.svg.SvgPathFillImage,
    )
    code.add_data(data)
    code.make(fit=True)
    image: Any = code.make_image()
    root: Any = image.get_image()
    for attribute in ("width", "height"):
        root.attrib.pop(attribute, None)
    root.set("role", "img")
    root.set("aria-label", "QR code")
    root.set("shape-rendering", "crispEdges")
    path: Any = image.path
    path.set("d", _runs_path(code.modules, QR_BORDER))
    # qrcode names the path id="qr-path"; ids must be unique in a page with several codes.
    path.attrib.pop("id", None)
    svg = str(image.to_string(encoding="unicode"))
    if svg.startswith("<?xml"):
        svg = svg.split("?>", 1)[1].lstrip()
    return svg


QR_PNG_BOX = 8  # pixels per module: a ticket token's code is about 330 px square


def qr_png(data: str) -> bytes:
    """`data` as a QR code in PNG (error correction M, the standard quiet zone), for
    clients that cannot draw SVG (the API's `data:image/png;base64,` URI). Pillow draws it."""
    import io

    import qrcode

    code = qrcode.QRCode(
        error_correction=qrcode.constants.ERROR_CORRECT_M, border=QR_BORDER, box_size=QR_PNG_BOX
    )
    code.add_data(data)
    code.make(fit=True)
    out = io.BytesIO()
    code.make_image(fill_color="black", back_color="white").save(out, format="PNG")
    return out.getvalue()


def qr_png_data_uri(data: str) -> str:
    import base64

    return "data:image/png;base64," + base64.b64encode(qr_png(data)).decode("ascii")


# ----------------------------------------------------------------------------- PDF

# The fonts a ticket prints with, shipped in domain/fonts (Noto Sans and the Noto Sans of
# the major Indian scripts, see its README): the template's @font-face rules load them
# from FONTS_URL. WeasyPrint is given a Fontconfig set-up with no font directories
# (fonts.conf there), so the host's fonts are never used and a passenger's name prints
# the same on every machine.
FONTS_DIR = Path(__file__).resolve().parent / "fonts"
FONTS_URL = FONTS_DIR.as_uri()
FONT_FACES = (  # (family, file stem): each has -Regular.ttf and -Bold.ttf
    ("Noto Sans", "NotoSans"),
    *(
        (f"Noto Sans {script}", f"NotoSans{script}")
        for script in (
            "Devanagari",
            "Bengali",
            "Gurmukhi",
            "Gujarati",
            "Oriya",
            "Tamil",
            "Telugu",
            "Kannada",
            "Malayalam",
        )
    ),
)
_FONTCONFIG_FILE = FONTS_DIR / "fonts.conf"

# WeasyPrint announces each rendering step at INFO (7 lines per PDF); only its warnings
# and errors are worth a line in the server's log.
logging.getLogger("weasyprint.progress").setLevel(logging.WARNING)

# WeasyPrint's rendering is pure Python holding the GIL, so threads gain nothing from
# rendering side by side, while Pango/fontconfig have a history of crashing under
# concurrent use. One render at a time per process.
_render_lock = threading.Lock()
# One Fontconfig/Pango set-up per process, not per PDF: WeasyPrint builds a new one for
# each document unless given one (~25 ms, plus cold font caches every time), and the
# ticket's @font-face fonts are then loaded once. Used only under the lock.
_font_config: Any = None


def font_face_css(fonts_url: str = FONTS_URL) -> str:
    """The @font-face rules for the shipped fonts (what the ticket template writes)."""
    return "".join(
        f'@font-face {{ font-family: "{family}"; font-weight: {weight}; '
        f'src: url("{fonts_url}/{stem}-{suffix}.ttf"); }}'
        for family, stem in FONT_FACES
        for weight, suffix in (("normal", "Regular"), ("bold", "Bold"))
    )


def _new_font_config() -> Any:
    """A WeasyPrint font set-up that knows no font but those @font-face rules add.

    WeasyPrint loads Fontconfig's configuration from the file FONTCONFIG_FILE names, read
    when the set-up is made; it is pointed at an empty one for that moment only (under
    the render lock, and nothing else in the process uses Fontconfig)."""
    from weasyprint.text.fonts import FontConfiguration

    before = os.environ.get("FONTCONFIG_FILE")
    os.environ["FONTCONFIG_FILE"] = str(_FONTCONFIG_FILE)
    try:
        return FontConfiguration()
    finally:
        if before is None:
            del os.environ["FONTCONFIG_FILE"]
        else:
            os.environ["FONTCONFIG_FILE"] = before


@atexit.register
def _drop_shared_font_config() -> None:
    # Its temporary font folder is removed while the interpreter can still do it (at the
    # very end its __del__ finds shutil gone and complains).
    global _font_config
    _font_config = None


def _shared_font_config() -> Any:
    global _font_config
    if _font_config is None:
        _font_config = _new_font_config()
    return _font_config


_STYLE_BLOCK = re.compile(r"<style>(.*?)</style>", re.DOTALL | re.IGNORECASE)
_OTHER_CSS = re.compile(r"<link\b|<style\s|@import", re.IGNORECASE)
_HEAD_END = re.compile(r"</head\s*>", re.IGNORECASE)


@functools.lru_cache(maxsize=16)
def _parsed_stylesheet(css: str, base_url: str | None) -> Any:
    """A parsed, selector-compiled stylesheet, kept for the next document with the same
    <style>: parsing and compiling the ticket's CSS is ~15% of a render. Called under the
    render lock only (it uses the shared font set-up)."""
    from weasyprint import CSS
    from weasyprint.urls import URLFetcher

    return CSS(
        string=css,
        base_url=base_url,
        url_fetcher=URLFetcher(allowed_protocols=("data", "file")),
        font_config=_shared_font_config(),
    )


def _split_styles(html: str) -> tuple[str, list[str]]:
    """The document without its plain `<style>` blocks, and their CSS in order, when those
    blocks (all in the head) are all the CSS it has; otherwise the document untouched.

    Passed back as `stylesheets=`, the rules cascade as WeasyPrint's "user" origin instead
    of "author"; with no other author stylesheet that gives the same styles (inline
    `style` attributes still win, `!important` still beats them). Their @font-face rules
    load their fonts into the shared set-up once, when the block is first parsed.
    """
    head_end = _HEAD_END.search(html)
    if head_end is None:
        return html, []
    head, rest = html[: head_end.start()], html[head_end.start() :]
    blocks = _STYLE_BLOCK.findall(head)
    if not blocks or _OTHER_CSS.search(html) or "<style" in rest.lower():
        return html, []
    return _STYLE_BLOCK.sub("", head) + rest, blocks


def render_pdf(html: str, *, base_url: str | None = None) -> bytes:
    """Render an HTML document (e.g. templates/tickets/ticket_pdf.html) to PDF bytes.

    Synchronous and CPU-bound (~0.2 s for a ticket, see bench/pdf.py), one render at a
    time per process: call it from async code through `render_pdf_async`. Only `data:`
    and `file:` URLs are fetched (`base_url` resolves relative ones); network URLs are
    refused, so a ticket never makes a request whatever ends up in its HTML. Text is set
    only in fonts the document loads with @font-face (the host's fonts are never used):
    a document without any prints no text.
    """
    from weasyprint import HTML
    from weasyprint.urls import URLFetcher

    fetcher = URLFetcher(allowed_protocols=("data", "file"))
    body, styles = _split_styles(html)
    document = HTML(string=body, base_url=base_url, url_fetcher=fetcher)
    with _render_lock:
        if "@font-face" in html and not styles:
            # Fonts from a <link> or the body would join the shared set-up for good: give
            # the document a fresh one.
            pdf = document.write_pdf(font_config=_new_font_config())
        else:
            stylesheets = [_parsed_stylesheet(css, base_url) for css in styles]
            pdf = document.write_pdf(font_config=_shared_font_config(), stylesheets=stylesheets)
    if not isinstance(pdf, bytes):  # write_pdf() without a target returns bytes
        raise TypeError("WeasyPrint returned no PDF bytes")
    return pdf


def warm_up() -> None:
    """Import WeasyPrint and render a tiny page, so the first ticket a customer downloads
    doesn't pay the ~2-3 s import and font set-up. Call it once per process at start-up,
    off the event loop: `await asyncio.to_thread(ticket_documents.warm_up)`."""
    render_pdf(
        f"<html><head><style>{font_face_css()} p {{ font-family: 'Noto Sans' }}</style></head>"
        "<body><p>Busbook <b>बसबुक</b></p></body></html>"
    )


async def render_pdf_async(html: str, base_url: str | None = None) -> bytes:
    """`render_pdf` in a worker thread, so the event loop keeps serving."""
    return await asyncio.to_thread(render_pdf, html, base_url=base_url)
