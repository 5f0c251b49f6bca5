"""Test-wide setup shared by every app's tests.

Tests run with DEBUG off (as production does), so they need a secret key of their own. The
shared fixtures (users, signed-in clients, the databases both open by default, Chromium) live in
the `testing` package, registered here as plugins.
"""

import os

os.environ.setdefault("SECRET_KEY", "test-only-secret-key-not-for-production")
os.environ.setdefault("EMAIL_URL", "memorymail://")
# Playwright's sync API runs an event loop in the test thread; the ORM calls the tests make
# around it are still synchronous.
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

pytest_plugins = ["testing.fixtures", "testing.browser"]
