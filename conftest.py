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


@pytest.fixture(scope="session")
def browser():
    """A real headless Chromium (Debian's), driven by Playwright. Never a downloaded browser."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture
def page(browser, live_server):
    """A fresh browser context (own cookies) on the live server; `page.goto("/...")` works."""
    context = browser.new_context(base_url=live_server.url)
    context.set_default_timeout(15_000)
    page = context.new_page()
    yield page
    context.close()


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
