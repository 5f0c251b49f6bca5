"""Real headless Chromium (Debian's, driven by Playwright) and pages that watch for CSP violations.

A pytest plugin (the root conftest.py registers it). Under pytest-xdist each worker process
starts its own browser, once, when its first browser test runs.
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
