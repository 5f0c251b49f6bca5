"""The colour pairs static/css/site.css declares reach WCAG 2.2 AA, per team, in both colour
schemes: 4.5:1 for text, 3:1 for the edges of controls and the focus ring (1.4.3, 1.4.11).

Computed from the custom properties themselves, so a colour changed in the stylesheet is checked
without a browser. axe-core checks the rendered pages too (test_accessibility_browser.py), but
axe judges text only, not a button's outline or the focus ring. Team fills (--red, --blue,
--yellow: bars and swatches beside the team's name) are decoration and are not checked here.
"""

import re

import pytest
from django.conf import settings

CSS = settings.BASE_DIR / "static" / "css" / "site.css"
TEAMS = ("red", "blue", "yellow")
SURFACES = ("--bg", "--surface")
TEXT = 4.5
UI_PART = 3.0


def declarations(block: str) -> dict[str, str]:
    block = re.sub(r"/\*.*?\*/", "", block, flags=re.DOTALL)
    return dict(re.findall(r"(--[\w-]+)\s*:\s*([^;]+);", block))


def schemes() -> dict[str, dict[str, str]]:
    css = CSS.read_text()
    light = declarations(re.search(r"^:root\s*\{(.*?)\}", css, re.DOTALL | re.MULTILINE)[1])
    dark_block = re.search(
        r"@media \(prefers-color-scheme: dark\)\s*\{\s*:root\s*\{(.*?)\}", css, re.DOTALL
    )[1]
    return {"light": light, "dark": light | declarations(dark_block)}


def colour(properties: dict[str, str], name: str) -> str:
    value = properties[name].strip()
    while match := re.fullmatch(r"var\((--[\w-]+)\)", value):
        value = properties[match[1]].strip()
    assert re.fullmatch(r"#[0-9a-fA-F]{6}", value), f"{name} is {value!r}, not #rrggbb"
    return value


def luminance(hex_colour: str) -> float:
    def channel(byte: int) -> float:
        c = byte / 255
        return c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4

    r, g, b = (int(hex_colour[i : i + 2], 16) for i in (1, 3, 5))
    return 0.2126 * channel(r) + 0.7152 * channel(g) + 0.0722 * channel(b)


def contrast(one: str, other: str) -> float:
    high, low = sorted((luminance(one), luminance(other)), reverse=True)
    return (high + 0.05) / (low + 0.05)


def pairs() -> list[tuple[str, str, float]]:
    """(foreground, background, minimum) for every pair the stylesheets put together."""
    on_surfaces = [
        *((text, surface, TEXT) for text in ("--fg", "--muted", "--link", "--danger",
                                             "--warning-text") for surface in SURFACES),
        *((f"--{team}-text", surface, TEXT) for team in TEAMS for surface in SURFACES),
        *((part, surface, UI_PART) for part in ("--control", "--focus", "--primary")
          for surface in SURFACES),
    ]  # fmt: skip
    filled = [
        ("--on-primary", "--primary", TEXT),
        ("--on-primary", "--primary-hover", TEXT),
        ("--on-danger", "--danger", TEXT),  # a destructive button under the pointer
    ]
    return on_surfaces + filled


@pytest.mark.parametrize("scheme", ["light", "dark"])
def test_every_colour_pair_reaches_wcag_aa(scheme):
    properties = schemes()[scheme]
    too_low = [
        f"{front} on {back}: {ratio:.2f}:1, needs {minimum}:1"
        for front, back, minimum in pairs()
        if (ratio := contrast(colour(properties, front), colour(properties, back))) < minimum
    ]
    assert too_low == []


@pytest.mark.parametrize("scheme", ["light", "dark"])
def test_each_team_has_a_readable_text_colour_of_its_own(scheme):
    properties = schemes()[scheme]
    texts = {colour(properties, f"--{team}-text").lower() for team in TEAMS}
    assert len(texts) == len(TEAMS)


def test_buttons_never_take_the_team_colour():
    """Primary, secondary and destructive differ by shape and ink, for every team alike."""
    css = CSS.read_text()
    buttons = re.findall(r"button[^{]*\{([^}]*)\}", css)
    assert buttons and not [rule for rule in buttons if "--accent" in rule]
