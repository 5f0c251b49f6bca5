"""The read ticket's lifetime: what keeps a replayed ticket from earning a second read."""

import pytest
from django.conf import settings

from blog.models import READ_WINDOW
from litesite.tests.test_settings import failure_of, settings_from


def test_a_ticket_lives_less_than_the_read_window():
    assert 0 < settings.BLOG_READ_TICKET_MAX_AGE < READ_WINDOW.total_seconds()


@pytest.mark.parametrize("seconds", [str(int(READ_WINDOW.total_seconds())), "0", "-5"])
def test_a_ticket_lifetime_outside_the_read_window_stops_start_up(tmp_path, seconds):
    message = failure_of(tmp_path, SECRET_KEY="k", BLOG_READ_TICKET_MAX_AGE=seconds)
    assert "BLOG_READ_TICKET_MAX_AGE must be more than 0 and less than the 7-day" in message


def test_a_shorter_ticket_lifetime_is_accepted(tmp_path):
    assert settings_from(tmp_path, SECRET_KEY="k", BLOG_READ_TICKET_MAX_AGE="3600")
