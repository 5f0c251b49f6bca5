"""Test-wide setup shared by every app's tests.

Tests run with DEBUG off (as production does), so they need a secret key of their own.
"""

import os

os.environ.setdefault("SECRET_KEY", "test-only-secret-key-not-for-production")
os.environ.setdefault("EMAIL_URL", "memorymail://")
# Playwright's sync API runs an event loop in the test thread; the ORM calls the tests make
# around it are still synchronous.
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")


import pytest  # noqa: E402

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


@pytest.fixture(scope="session", autouse=True)
def _static_files_from_source():
    """Serve static files from the source folders: the production manifest storage would need
    a `collectstatic` run before every test session."""
    from django.conf import settings
    from django.test import override_settings

    storages = {
        **settings.STORAGES,
        "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
    }
    with override_settings(STORAGES=storages):
        yield


@pytest.fixture(autouse=True)
def _no_cache_faults_from_earlier_tests():
    """Cache faults are remembered per process for a minute (the health check reports them);
    one test's injected fault must not show in the next test's answers."""
    from cachedb import faults

    faults.forget()
    yield
    faults.forget()


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


@pytest.fixture
def own_cache_file(tmp_path):
    """Point the cache alias at a file of this test's own, with its tables, for tests that break
    the file for real (delete it, overwrite it, make it read-only). Restored afterwards.

    Yields the file's path. Use with transaction=True: the connection is reopened.
    """
    from django.core.management import call_command
    from django.db import connections

    from cachedb import faults, store

    connection = connections["cache"]
    original = connection.settings_dict["NAME"]
    path = tmp_path / "cache.sqlite3"
    connection.close()
    connection.settings_dict["NAME"] = str(path)
    call_command("migrate", database="cache", interactive=False, verbosity=0)
    store.reset_memory()
    faults.forget()
    yield path
    connection.close()
    connection.settings_dict["NAME"] = original
    store.reset_memory()
    faults.forget()


@pytest.fixture
def lock_held_elsewhere():
    """lock_held_elsewhere(path, exclusive=False): another process takes `path`'s write lock
    (BEGIN IMMEDIATE) and holds it until the test ends. `exclusive=True` locks readers out too,
    which in WAL mode takes an exclusive locking mode (and no other connection open to the file).
    """
    import subprocess
    import sys

    holders = []

    def hold(path, *, exclusive: bool = False) -> None:
        take = (
            "c.execute('PRAGMA locking_mode=EXCLUSIVE'); c.execute('BEGIN EXCLUSIVE')"
            if exclusive
            else "c.execute('BEGIN IMMEDIATE')"
        )
        holder = subprocess.Popen(
            [
                sys.executable,
                "-c",
                "import sqlite3, sys\n"
                f"c = sqlite3.connect({str(path)!r}, isolation_level=None)\n"
                f"{take}\n"
                "print('locked', flush=True)\n"
                "sys.stdin.read()\n",
            ],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        holders.append(holder)
        assert holder.stdout.readline().strip() == "locked"

    yield hold
    for holder in holders:
        holder.stdin.close()
        holder.wait(timeout=30)
