"""The site's settings for bench/faults.py: a read is reported as soon as the post page is open,
so the writer threads report without waiting out a reading time."""

from litesite.settings import *  # noqa: F403

BLOG_READ_THRESHOLD = 0
