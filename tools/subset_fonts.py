"""Rebuild domain/fonts/ (the fonts the ticket PDF embeds) from Noto's TrueType files.

    apt-get download fonts-noto-core && dpkg-deb -x fonts-noto-core_*.deb /tmp/noto
    uv run python tools/subset_fonts.py /tmp/noto/usr/share/fonts/truetype/noto

Noto Sans keeps the Latin, punctuation and currency ranges a ticket prints; each Indian
script's Noto Sans keeps its own block plus the joiners and the dotted circle that shaping
needs. Every OpenType layout feature is kept (conjuncts, matras and reph are GSUB/GPOS
work); hinting is dropped (a PDF is drawn at any size). Regular and Bold only.
"""

from __future__ import annotations

import sys
from pathlib import Path

from fontTools import subset
from fontTools.ttLib import TTFont

OUT = Path(__file__).resolve().parent.parent / "domain" / "fonts"

LATIN = [
    (0x0020, 0x024F),  # Basic Latin to Latin Extended-B
    (0x0250, 0x036F),  # IPA, spacing modifiers, combining diacritics
    (0x1E00, 0x1EFF),  # Latin Extended Additional
    (0x2000, 0x206F),  # General Punctuation
    (0x20A0, 0x20CF),  # Currency symbols (₹)
    (0x2100, 0x214F),  # Letterlike symbols (№, ™)
    (0x2212, 0x2212),  # minus
    (0x25CC, 0x25CC),  # dotted circle
    (0xFB00, 0xFB06),  # Latin ligatures
]
# What a run of an Indian script also holds: spaces and ASCII punctuation between words
# (Pango gives them the run's font), dandas, the joiners, the dotted circle.
SHAPING = [
    (0x0020, 0x007E),
    (0x00A0, 0x00A0),
    (0x00AD, 0x00AD),
    (0x0964, 0x0965),
    (0x200B, 0x200D),
    (0x2010, 0x2027),
    (0x25CC, 0x25CC),
]
SCRIPTS = {
    "": LATIN,
    "Devanagari": [(0x0900, 0x097F), (0x1CD0, 0x1CFF), (0xA8E0, 0xA8FF)],
    "Bengali": [(0x0980, 0x09FF)],
    "Gurmukhi": [(0x0A00, 0x0A7F)],
    "Gujarati": [(0x0A80, 0x0AFF)],
    "Oriya": [(0x0B00, 0x0B7F)],
    "Tamil": [(0x0B80, 0x0BFF), (0x11FC0, 0x11FFF)],
    "Telugu": [(0x0C00, 0x0C7F)],
    "Kannada": [(0x0C80, 0x0CFF)],
    "Malayalam": [(0x0D00, 0x0D7F)],
}


def main(source: Path) -> None:
    OUT.mkdir(exist_ok=True)
    for script, ranges in SCRIPTS.items():
        wanted = ranges + (SHAPING if script else [])
        unicodes = [c for lo, hi in wanted for c in range(lo, hi + 1)]
        for weight in ("Regular", "Bold"):
            name = f"NotoSans{script}-{weight}.ttf"
            options = subset.Options()
            options.layout_features = ["*"]
            options.name_IDs = ["*"]
            options.name_languages = ["*"]
            options.hinting = False
            options.notdef_outline = True
            options.glyph_names = False
            font = TTFont(source / name)
            subsetter = subset.Subsetter(options)
            subsetter.populate(unicodes=unicodes)
            subsetter.subset(font)
            font.save(OUT / name)
            print(f"{name}: {(OUT / name).stat().st_size // 1024} KB")


if __name__ == "__main__":
    main(Path(sys.argv[1]))
