"""The read ticket's lifetime: what keeps a replayed ticket from earning a second read."""

import pytest
from django.conf import settings
from django.core.management import call_command
from django.core.management.base import SystemCheckError

from blog.checks import read_ticket_outlives_no_read_window
from blog.models import READ_WINDOW


def test_a_ticket_lives_less_than_the_read_window():
    assert 0 < settings.BLOG_READ_TICKET_MAX_AGE < READ_WINDOW.total_seconds()
    assert read_ticket_outlives_no_read_window(None) == []


@pytest.mark.parametrize("seconds", [int(READ_WINDOW.total_seconds()), 0, -5])
def test_a_ticket_lifetime_outside_the_read_window_fails_the_system_check(settings, seconds):
    settings.BLOG_READ_TICKET_MAX_AGE = seconds
    [error] = read_ticket_outlives_no_read_window(None)
    assert error.id == "blog.E001"
    assert "BLOG_READ_TICKET_MAX_AGE must be more than 0 and less than the 7-day" in error.msg


def test_a_shorter_ticket_lifetime_passes_the_system_check(settings):
    settings.BLOG_READ_TICKET_MAX_AGE = 3600
    assert read_ticket_outlives_no_read_window(None) == []


def test_manage_py_check_refuses_a_ticket_that_outlives_the_window(settings):
    settings.BLOG_READ_TICKET_MAX_AGE = int(READ_WINDOW.total_seconds())
    with pytest.raises(SystemCheckError, match="blog.E001"):
        call_command("check")
