"""The site's pages under its Content-Security-Policy, in real headless Chromium.

Every page is loaded by a browser that reports each CSP violation (the `open_page` fixture in
the root conftest, which every browser test uses); the site's own pages must cause none. The
sample posts in content/ are the posts shown.
"""

import pytest

from testing.browser import plays, sign_in
from testing.sample_site import sample_site

pytestmark = [
    pytest.mark.browser,
    pytest.mark.django_db(transaction=True),
]


@pytest.fixture
def site(tmp_path):
    """A reader with a pending call (with a response), a staff member and one published episode."""
    return sample_site(tmp_path)


def visit_all(page, paths: dict[str, int], csp_violations: list[str]) -> None:
    """Load each page, check its status and policy header, and that it reported no violation."""
    for path, status in paths.items():
        response = page.goto(path)
        assert response.status == status, path
        assert "default-src 'self'" in response.headers["content-security-policy"], path
        # One rendered frame later, styles are applied and deferred scripts have run.
        page.evaluate("() => new Promise((done) => requestAnimationFrame(() => done()))")
        assert csp_violations == [], path


def test_public_pages_report_no_csp_violation(page, site, csp_violations):
    visit_all(
        page,
        {
            "/": 200,
            "/blog/": 200,
            "/blog/?q=sqlite": 200,
            "/blog/litefs-replication-explained/": 200,  # an SVG image and highlighted code
            "/blog/why-sqlite-in-production/": 200,  # a table with aligned columns
            "/calls/": 200,
            site["episode"].get_absolute_url(): 200,  # an audio player
            "/login": 200,
            "/certainly-not-a-page": 404,  # the error pages' own stylesheet
        },
        csp_violations,
    )


def test_a_readers_pages_report_no_csp_violation(page, live_server, site, csp_violations):
    sign_in(page, live_server, site["reader"])
    visit_all(
        page,
        {
            "/me": 200,
            "/calls/record/": 200,
            f"/calls/record/{site['call'].pk}/": 200,
            "/logout": 200,
        },
        csp_violations,
    )


def test_staff_pages_report_no_csp_violation(page, live_server, site, csp_violations):
    sign_in(page, live_server, site["staff"])
    visit_all(
        page,
        {
            "/calls/admin/": 200,
            f"/calls/admin/{site['call'].pk}/": 200,
            "/admin/": 200,
            "/admin/calls/call/": 200,
            f"/admin/calls/call/{site['call'].pk}/change/": 200,
        },
        csp_violations,
    )


def test_the_recorder_plays_back_a_recording_under_the_policy(
    page, live_server, site, csp_violations
):
    """The listen-back player plays the recording from a blob: URL (media-src allows it)."""
    sign_in(page, live_server, site["reader"])
    page.goto("/calls/record/")
    page.get_by_role("button", name="Start recording").click()
    page.wait_for_function("() => document.querySelector('[data-timer]').textContent >= '0:01'")
    page.get_by_role("button", name="Stop").click()
    # The recording becomes a blob when the recorder has flushed its last chunk, a moment later.
    page.wait_for_function(
        "() => (document.querySelector('[data-playback]').getAttribute('src') || '') !== ''"
    )
    source = page.locator("[data-playback]").get_attribute("src")
    assert source.startswith("blob:")
    assert plays(page, "[data-playback]") is True
    assert csp_violations == []


def test_script_injected_into_a_page_is_blocked_and_reported(browser, live_server, db):
    """What the policy is for: markup that slips into a page cannot run script."""
    context = browser.new_context(base_url=live_server.url)
    page = context.new_page()
    assert "default-src 'self'" in page.goto("/").headers["content-security-policy"]
    blocked = page.evaluate(
        """() => new Promise((resolve) => {
            const seen = new Set();
            document.addEventListener('securitypolicyviolation', (event) => {
                seen.add(event.violatedDirective);
                if (seen.size === 2) resolve([...seen].sort());
            });
            document.body.insertAdjacentHTML(
                'beforeend', '<img src="/no-such-image.png" onerror="window.pwned = true">'
            );
            const script = document.createElement('script');
            script.textContent = 'window.pwned = true';
            document.body.append(script);
            // An inline script that is allowed runs during append(): no need to wait then.
            if (window.pwned) resolve(['the script ran']);
        })"""
    )
    assert blocked == ["script-src-attr", "script-src-elem"]
    assert page.evaluate("window.pwned") is None
    context.close()
