"""Every page of the URL map in real headless Chromium, checked by axe-core, signed out, signed in
and as staff, at a desktop width (1280 px) and a phone's (390 px): no serious or critical axe
violation, and no page wider than its viewport, down to 320 px.

axe-core comes bundled in the axe-playwright-python package. It is evaluated into each page
through the DevTools protocol, which the site's Content-Security-Policy does not govern, so the
pages are checked under the policy they are served with (and the `open_page` fixture still fails
a test on any violation of it). The sample posts in content/ are the posts shown.
"""

import pytest
from axe_playwright_python.sync_playwright import Axe
from django.core import mail
from playwright.sync_api import expect

from accounts.models import Role, Team, User
from blog.models import PostRead
from testing.browser import sign_in
from testing.fixtures import emailed_link_path
from testing.sample_site import sample_site

pytestmark = [
    pytest.mark.browser,
    pytest.mark.django_db(transaction=True),
]

AXE = Axe()
FAILING_IMPACTS = ("serious", "critical")
# Width -> run axe there too (every width is checked for sideways scrolling).
WIDTHS = {1280: True, 390: True, 320: False}
POST_WITH_TABLE = "/blog/why-sqlite-in-production/"  # a table, aligned columns, code
POST_WITH_IMAGE = "/blog/litefs-replication-explained/"  # an SVG image, a table of contents
DRAFT = "/blog/draft-multi-region-writes/"


@pytest.fixture
def site(tmp_path):
    """The sample site (a Red reader with a pending call that has a response, a Red admin as
    `createadmin` makes them, one published episode), the reader with reads, one of a post that
    no longer exists."""
    site = sample_site(tmp_path)
    for slug in ("why-sqlite-in-production", "hello-litesite", "a-post-since-removed"):
        PostRead.objects.create(user=site["reader"], post_slug=slug)
    return site


def pages_for(role: str, site: dict) -> dict[str, int]:
    """The URL map (DESIGN.md's table, the apps' urls.py): every HTML page a visitor in `role`
    can reach, with the status it answers."""
    call, episode = site["call"], site["episode"]
    everyone = {
        "/": 200,
        "/blog/": 200,
        "/blog/?q=sqlite": 200,
        POST_WITH_TABLE: 200,
        POST_WITH_IMAGE: 200,
        "/calls/": 200,
        episode.get_absolute_url(): 200,
        "/no-such-page/": 404,
    }
    if role == "signed out":
        return everyone | {
            "/blog/?category=SQLite": 200,
            "/login": 200,
            "/login/sent": 200,
            "/magic?token=not-a-real-token": 400,
        }
    readers = everyone | {
        "/blog/?read=unread": 200,
        "/me": 200,
        "/me/delete": 200,
        "/logout": 200,
        "/calls/record/": 200,
    }
    if role == "signed in":
        return readers | {call.get_absolute_url(): 200, "/admin/": 403}
    return readers | {
        DRAFT: 200,
        "/calls/admin/": 200,
        call.get_staff_url(): 200,
        "/admin/": 200,
        "/admin/accounts/user/": 200,
        f"/admin/accounts/user/{site['reader'].pk}/change/": 200,
        "/admin/blog/postread/": 200,
        "/admin/calls/call/": 200,
        f"/admin/calls/call/{call.pk}/change/": 200,
        "/admin/calls/episode/": 200,
        "/admin/cachedb/cacheentry/": 200,
    }


def settle(page) -> None:
    """One rendered frame later, styles are applied and deferred scripts have run."""
    page.evaluate("() => new Promise((done) => requestAnimationFrame(() => done()))")


def axe_problems(page, *, rules: list[str] | None = None) -> list[str]:
    """axe's serious and critical violations on the page as it is now, one line per element."""
    # No preloading: axe would re-parse stylesheets that @import others (Django admin's forms.css)
    # by adding <style> elements, which the site's policy blocks, and only css-orientation-lock
    # reads them.
    options = {"resultTypes": ["violations"], "preload": False}
    if rules:
        options["runOnly"] = {"type": "rule", "values": rules}
    found = AXE.run(page, options=options).response["violations"]
    return [
        f"{violation['id']} ({violation['impact']}): {violation['help']} at "
        f"{', '.join(map(str, node['target']))}: {node['failureSummary'].splitlines()[-1].strip()}"
        for violation in found
        if violation["impact"] in FAILING_IMPACTS
        for node in violation["nodes"]
    ]


OVERFLOW = """() => {
    const wide = [];
    if (document.documentElement.scrollWidth > window.innerWidth) {
        wide.push(`the page is ${document.documentElement.scrollWidth} px wide`);
    }
    for (const card of document.querySelectorAll(".card")) {
        if (card.scrollWidth > card.clientWidth) {
            wide.push(`a card's content is ${card.scrollWidth} px in ${card.clientWidth} px`);
        }
    }
    return wide;
}"""


def overflow_problems(page) -> list[str]:
    return page.evaluate(OVERFLOW)


def check_pages(page, pages: dict[str, int], *, run_axe: bool) -> list[str]:
    problems = []
    for path, status in pages.items():
        response = page.goto(path)
        assert response.status == status, f"{path} answered {response.status}"
        settle(page)
        found = overflow_problems(page) + (axe_problems(page) if run_axe else [])
        problems += [f"{path}: {problem}" for problem in found]
    return problems


def signup_page(page) -> None:
    """The onboarding page exists only inside the sign-in flow: ask for a link, open it."""
    page.goto("/login")
    page.get_by_label("Email address").fill("newcomer@example.com")
    page.get_by_role("button", name="Email me a sign-in link").click()
    page.get_by_role("heading", name="Check your email").wait_for()
    page.goto(emailed_link_path(mail.outbox[-1]))
    page.get_by_role("heading", name="Welcome!").wait_for()
    settle(page)


@pytest.mark.parametrize("width", WIDTHS)
@pytest.mark.parametrize("role", ["signed out", "signed in", "staff"])
def test_every_page_has_no_serious_axe_violation_and_fits_the_screen(
    open_page, live_server, site, role, width
):
    page = open_page(viewport={"width": width, "height": 800})
    user = {"signed out": None, "signed in": site["reader"], "staff": site["staff"]}[role]
    if user:
        sign_in(page, live_server, user)
    problems = check_pages(page, pages_for(role, site), run_axe=WIDTHS[width])
    if role == "signed out":
        signup_page(page)
        found = overflow_problems(page) + (axe_problems(page) if WIDTHS[width] else [])
        problems += [f"/signup: {problem}" for problem in found]
    assert problems == [], f"{role} at {width} px:\n" + "\n".join(problems)


@pytest.fixture
def team_admin(site):
    """make(team) -> an admin of `team` who has read the post with a table (so the team leads
    on it and overall, and the post takes its colour) and a few others."""

    def make(team: str) -> User:
        admin = User.objects.create(
            email=f"{team.lower()}-host@example.com",
            first_name=f"{team.title()} host",
            team=team,
            role=Role.ADMIN,
        )
        for slug in ("why-sqlite-in-production", "hello-litesite", "team-leaderboards-math"):
            PostRead.objects.create(user=admin, post_slug=slug)
        return admin

    return make


@pytest.mark.parametrize("team", Team.values)
def test_every_text_in_a_teams_colours_is_readable_in_light_and_dark(
    open_page, live_server, site, team_admin, team
):
    """axe's color-contrast rule (WCAG AA: 4.5:1, 3:1 for large text) on the pages that show a
    team's colour: the header, read markers, a post the team leads, /me, the recorder, staff."""
    admin = team_admin(team)
    pages = ["/", "/blog/", POST_WITH_TABLE, "/me", "/calls/record/", site["call"].get_staff_url()]
    problems = []
    for scheme in ("light", "dark"):
        page = open_page(color_scheme=scheme, viewport={"width": 390, "height": 800})
        sign_in(page, live_server, admin)
        for path in pages:
            assert page.goto(path).status == 200, path
            settle(page)
            assert f"team-{team.lower()}" in page.locator("body").get_attribute("class")
            found = axe_problems(page, rules=["color-contrast", "link-in-text-block"])
            problems += [f"{scheme} {path}: {problem}" for problem in found]
        page.context.close()
    assert problems == [], f"team {team}:\n" + "\n".join(problems)


BUTTON_LOOK = """(button) => {
    const style = getComputedStyle(button);
    const icon = getComputedStyle(button, "::before");
    return {
        background: style.backgroundColor,
        border: style.borderTopColor,
        text: style.color,
        icon: icon.content !== "none" && icon.content !== "normal",
    };
}"""


def hex_to_rgb(value: str) -> str:
    value = value.strip().lstrip("#")
    return "rgb({}, {}, {})".format(*(int(value[i : i + 2], 16) for i in (0, 2, 4)))


@pytest.mark.parametrize("team", Team.values)
def test_primary_secondary_and_destructive_buttons_look_different_for_every_team(
    open_page, live_server, site, team_admin, team
):
    page = open_page()
    sign_in(page, live_server, team_admin(team))
    page.goto(site["call"].get_staff_url())
    page.locator("[data-recorder]").wait_for(state="visible")
    accent = page.evaluate("getComputedStyle(document.body).getPropertyValue('--accent')")
    team_colour = hex_to_rgb(accent)

    def look(name: str) -> dict:
        return page.get_by_role("button", name=name, exact=True).evaluate(BUTTON_LOOK)

    primaries = [look(name) for name in ("Publish as the next episode", "Save response")]
    start = look("Start recording")
    page.get_by_role("button", name="Start recording").click()
    expect(page.get_by_role("button", name="Stop")).to_be_enabled()  # a recording runs
    stop = look("Stop")
    page.get_by_role("button", name="Stop").click()
    discard = look("Discard this call")

    assert primaries[0] == primaries[1]
    primary = primaries[0]
    assert {start["background"], start["border"], start["text"]} == {
        primary["background"], primary["border"], primary["text"]
    }  # fmt: skip
    assert discard["icon"], "a destructive button carries an icon as well as its colour"
    looks = {
        "primary": (primary["background"], primary["border"], primary["text"]),
        "secondary (Stop)": (stop["background"], stop["border"], stop["text"]),
        "destructive": (discard["background"], discard["border"], discard["text"]),
    }
    assert len(set(looks.values())) == 3, looks
    for kind, (background, border, _text) in looks.items():
        assert team_colour not in (background, border), f"{kind} wears team {team}'s colour"
