"""System checks on the blog's settings (run by manage.py check, migrate and runserver)."""

from django.conf import settings
from django.core import checks

from blog.models import READ_WINDOW


@checks.register(checks.Tags.security)
def read_ticket_outlives_no_read_window(app_configs, **kwargs) -> list[checks.CheckMessage]:
    """A ticket replayed after the read window closed would earn the same reader a second read."""
    max_age = settings.BLOG_READ_TICKET_MAX_AGE
    if 0 < max_age < READ_WINDOW.total_seconds():
        return []
    return [
        checks.Error(
            f"BLOG_READ_TICKET_MAX_AGE must be more than 0 and less than the "
            f"{READ_WINDOW.days}-day read window ({READ_WINDOW.total_seconds():.0f} seconds), "
            f"not {max_age}.",
            hint="A ticket that outlives the window could earn its reader a second read.",
            id="blog.E001",
        )
    ]
