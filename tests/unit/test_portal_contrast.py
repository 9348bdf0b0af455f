"""The portal's text colours are readable: WCAG AA contrast (4.5:1) on their backgrounds."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from aidc import portal

CSS = (Path(portal.__file__).parent / "static" / "portal.css").read_text()
VARS = dict(re.findall(r"--([a-z]+):\s*(#[0-9a-fA-F]{6})", CSS))
# (text, background) as the stylesheet pairs them; state pills use literal backgrounds.
PAIRS = [
    ("fg", "bg"),
    ("muted", "bg"),
    ("link", "bg"),
    ("error", "bg"),
    ("fg", "panel"),
    ("muted", "panel"),
    ("#ffffff", "accent"),
    ("#ffffff", "error"),
    ("ok", "#dff0df"),
    ("error", "#f8e1e4"),
    ("warn", "#fbefd9"),
    ("fg", "#e6e9ed"),
    ("#000000", "#ffbf47"),  # the skip link
]


def luminance(colour: str) -> float:
    rgb = [int(colour[i : i + 2], 16) / 255 for i in (1, 3, 5)]
    lin = [c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4 for c in rgb]
    return 0.2126 * lin[0] + 0.7152 * lin[1] + 0.0722 * lin[2]


def contrast(a: str, b: str) -> float:
    hi, lo = sorted((luminance(a), luminance(b)), reverse=True)
    return (hi + 0.05) / (lo + 0.05)


@pytest.mark.parametrize(("text", "background"), PAIRS)
def test_text_contrast_meets_wcag_aa(text: str, background: str) -> None:
    fg = text if text.startswith("#") else VARS[text]
    bg = background if background.startswith("#") else VARS[background]
    # The literal backgrounds must be the ones the stylesheet uses.
    for colour in (fg, bg):
        assert colour.lower() in CSS.lower()
    assert contrast(fg, bg) >= 4.5, (text, background, round(contrast(fg, bg), 2))


def test_the_contrast_formula() -> None:
    assert round(contrast("#000000", "#ffffff"), 1) == 21.0
    assert contrast("#777777", "#ffffff") < 4.5
