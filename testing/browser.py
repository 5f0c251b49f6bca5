"""Real headless Chromium (Debian's, driven by Playwright) and pages that watch for CSP violations.

A pytest plugin (the root conftest.py registers it). Under pytest-xdist each worker process
starts its own browser, once, when its first browser test runs. The helpers below it are imported
from here (`from testing.browser import sign_in`); scripts/screenshots.py uses the Chromium
options and `session_cookie` too, so this module imports Django only inside the helpers.
"""

import pytest

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    # A fake microphone for the call recorder, granted without a prompt.
    "--use-fake-ui-for-media-stream",
    "--use-fake-device-for-media-stream",
]


@pytest.fixture(scope="session")
def browser():
    """A real headless Chromium (Debian's), driven by Playwright. Never a downloaded browser."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


# Reports each Content-Security-Policy violation event to the test, from every page of a context.
REPORT_CSP_VIOLATIONS = """
document.addEventListener("securitypolicyviolation", (event) => {
  window.__reportCspViolation(
    `${location.pathname}: ${event.violatedDirective} blocked ${event.blockedURI || "inline code"}`
  );
}, true);
"""


def watch_for_csp_violations(context, violations: list[str]) -> None:
    """Append to `violations` every CSP violation a page of this browser context reports.

    Chromium logs each one to the console (with JavaScript off too) and fires a
    `securitypolicyviolation` event at the page; both are collected.
    """

    def on_console(message):
        if "Content Security Policy" in message.text:
            violations.append(f"{message.location.get('url', '')}: {message.text}")

    context.on("console", on_console)
    context.expose_binding("__reportCspViolation", lambda _source, text: violations.append(text))
    context.add_init_script(REPORT_CSP_VIOLATIONS)


@pytest.fixture
def csp_violations() -> list[str]:
    """The CSP violations reported so far by the pages `open_page` opened in this test."""
    return []


@pytest.fixture
def open_page(browser, live_server, csp_violations):
    """open_page(**context_options): a page in a fresh browser context (own cookies) on the live
    server, so `page.goto("/...")` works. A Content-Security-Policy violation on any page it
    shows fails the test: the site's own pages must satisfy the site's policy."""
    contexts = []

    def open_page(**options):
        context = browser.new_context(base_url=live_server.url, **options)
        context.set_default_timeout(15_000)
        watch_for_csp_violations(context, csp_violations)
        contexts.append(context)
        return context.new_page()

    yield open_page
    for context in contexts:
        context.close()
    if csp_violations:
        pytest.fail("Content-Security-Policy violations:\n" + "\n".join(csp_violations))


@pytest.fixture
def page(open_page):
    """A fresh, CSP-watched browser page on the live server (see `open_page`)."""
    return open_page()


# --- Helpers ------------------------------------------------------------------------------------


def session_cookie(user) -> str:
    """The value of a session cookie for `user`, made by Django's test client as the sign-in link
    would make the session."""
    from django.conf import settings
    from django.test import Client

    client = Client()
    client.force_login(user)
    return client.cookies[settings.SESSION_COOKIE_NAME].value


def sign_in(page, live_server, user) -> None:
    """Sign `user` in, in the page's browser context: a session cookie for the live server."""
    from django.conf import settings

    name, value = settings.SESSION_COOKIE_NAME, session_cookie(user)
    page.context.add_cookies([{"name": name, "value": value, "url": live_server.url}])


# What has the keyboard focus, is its ring drawn, and can a sighted keyboard user see it?
FOCUSED = """() => {
    const element = document.activeElement;
    const style = getComputedStyle(element);
    const box = element.getBoundingClientRect();
    return {
        name: (element.getAttribute("aria-label") || element.textContent || element.name || "")
            .trim().replace(/\\s+/g, " "),
        tag: element.tagName.toLowerCase(),
        ring: element.matches(":focus-visible") && style.outlineStyle !== "none"
            && parseFloat(style.outlineWidth) >= 2,
        ring_colour: style.outlineColor,
        page_colour: getComputedStyle(document.body).backgroundColor,
        on_screen: box.width > 1 && box.height > 1 && box.right > 0 && box.bottom > 0
            && box.left < window.innerWidth,
    };
}"""


def focused(page) -> dict:
    """The element that has the keyboard focus: its `name` (label, text or field name), `tag`,
    whether its focus `ring` is drawn (2 px or more), `ring_colour`, `page_colour` and whether it
    is `on_screen`."""
    return page.evaluate(FOCUSED)


def tab_to(page, name: str, *, limit: int = 20) -> list[dict]:
    """Press Tab until the element named `name` has the focus; every stop on the way (`focused`)."""
    stops = []
    for _ in range(limit):
        page.keyboard.press("Tab")
        stops.append(focused(page))
        if stops[-1]["name"] == name:
            return stops
    raise AssertionError(f"{name!r} never got the focus: {[stop['name'] for stop in stops]}")


def plays(page, selector: str) -> bool:
    """Whether the audio player `selector` starts playing (muted) when asked to."""
    return page.evaluate(
        """(selector) => new Promise((resolve) => {
            const player = document.querySelector(selector);
            player.muted = true;
            player.addEventListener('playing', () => resolve(true), { once: true });
            player.play().catch(() => resolve(false));
        })""",
        selector,
    )
