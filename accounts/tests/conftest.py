"""Fixtures for the accounts tests only; users and signed-in clients are in testing/fixtures.py."""

import pytest

from accounts import personal_data


@pytest.fixture
def registered_sections():
    """Personal-data sections a test registers are forgotten afterwards; the apps' stay."""
    kept = dict(personal_data._sections)
    yield
    personal_data._sections.clear()
    personal_data._sections.update(kept)
