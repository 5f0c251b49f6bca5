"""The blog's metrics: read reports by result and reason, and posts that fail to compile."""

import datetime as dt
import re

import pytest
import time_machine
from django.test import Client

from blog import compiler, content
from testing.fixtures import new_client_id
from testing.metrics import sample

pytestmark = pytest.mark.django_db

START = dt.datetime(2026, 1, 1, 12, 0, tzinfo=dt.UTC)
TICKET = re.compile(r'<meta name="read-ticket" content="([^"]+)">')
REPORT = "/blog/readable/mark-read"


@pytest.fixture
def post(posts_dir, settings):
    settings.BLOG_WORDS_PER_MINUTE = 230
    posts_dir.write("readable", body="word " * 460)  # two minutes, 72 s of them required


@pytest.fixture
def clock():
    with time_machine.travel(START, tick=False) as traveller:
        yield traveller


def reports(result: str, reason: str) -> float:
    return sample("litesite_read_reports_total", result=result, reason=reason)


def anonymous_browser() -> Client:
    client = Client()
    client.cookies["client_id"] = new_client_id()
    return client


def ticket_of(client) -> str:
    return TICKET.search(client.get("/blog/readable/").content.decode()).group(1)


def test_a_recorded_read_and_a_repeated_one_are_counted_as_accepted(post, clock):
    before = {reason: reports("accepted", reason) for reason in ("recorded", "already-read")}
    client = anonymous_browser()
    ticket = ticket_of(client)
    clock.shift(dt.timedelta(seconds=72))
    assert client.post(REPORT, {"ticket": ticket}).status_code == 201
    assert client.post(REPORT, {"ticket": ticket}).json()["reason"] == "already-read"
    assert reports("accepted", "recorded") == before["recorded"] + 1
    assert reports("accepted", "already-read") == before["already-read"] + 1


def test_a_report_too_early_is_counted_as_refused_too_early(post, clock):
    before = reports("refused", "too-early")
    client = anonymous_browser()
    assert client.post(REPORT, {"ticket": ticket_of(client)}).status_code == 400
    assert reports("refused", "too-early") == before + 1


@pytest.mark.parametrize(("ticket", "reason"), [("", "missing"), ("not a ticket at all", "forged")])
def test_a_bad_ticket_is_counted_as_refused_with_its_reason(post, clock, ticket, reason):
    before = reports("refused", reason)
    assert anonymous_browser().post(REPORT, {"ticket": ticket}).json()["reason"] == reason
    assert reports("refused", reason) == before + 1


def test_a_report_without_a_reader_is_counted_as_refused_no_reader(post, client):
    before = reports("refused", "no-reader")
    assert client.post(REPORT, {"ticket": "anything"}).json()["reason"] == "no-reader"
    assert reports("refused", "no-reader") == before + 1


def test_a_post_that_fails_to_compile_is_counted_once_per_attempt(posts_dir, monkeypatch):
    posts_dir.write("broken")

    def fail(*args, **kwargs):
        raise ValueError("the compiler choked")

    monkeypatch.setattr(compiler, "compile_markdown", fail)
    before = sample("litesite_post_compile_failures_total")
    for _ in range(3):  # the failure is remembered: one compile, three refusals
        with pytest.raises(compiler.CompileError):
            content.compiled(content.get_post("broken"))
    assert sample("litesite_post_compile_failures_total") == before + 1


def test_a_post_page_that_cannot_compile_is_counted(client, posts_dir, monkeypatch):
    posts_dir.write("broken")
    monkeypatch.setattr(compiler, "compile_markdown", lambda *a, **kw: 1 / 0)
    before = sample("litesite_post_compile_failures_total")
    assert client.get("/blog/broken/").status_code == 503
    assert sample("litesite_post_compile_failures_total") == before + 1
