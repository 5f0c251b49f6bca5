"""Screenshots of the pages visitors see, per team colour, at phone and desktop widths.

    .venv/bin/python scripts/screenshots.py OUTPUT_FOLDER [--widths 390,1280] [--teams red,blue]
        [--color-scheme dark]

For a person to look at the design, not a test: nothing here passes or fails. It starts the site
as production runs it (gunicorn with `DEBUG=false` and the hashed static files `collectstatic`
writes to var/staticfiles) on 127.0.0.1 on a free port, with throwaway databases in a temporary
folder and the sample posts from content/. It fills them with a reader and an admin per team,
some post reads (one of a post that no longer exists), a call per reader with a staff response,
and one published episode, gives each user a session (Django's test client makes it, as the
sign-in link would), and saves full-page PNGs into OUTPUT_FOLDER, one per team, width and page:

    red-390-home.png  red-390-post.png  red-390-me.png  red-390-recorder.png  red-390-staff-call.png
    anonymous-390-home.png  anonymous-390-post.png  (no team: the default accent)

Chromium is Debian's (/usr/bin/chromium) with a fake microphone, so the recorder shows as a
reader with a microphone sees it. The server stops, and the databases go, when the script ends.
"""

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from devcluster.harness import free_port, migrate_databases  # noqa: E402
from testing import local_site  # noqa: E402
from testing.browser import CHROMIUM, CHROMIUM_ARGS, session_cookie  # noqa: E402
from testing.local_site import manage, stop  # noqa: E402

TEAMS = ("red", "blue", "yellow")
# A post with a table, code and an image, and one that has reads from every team.
POST = "/blog/why-sqlite-in-production/"
# A read of a post whose folder is gone: /me shows its slug, as there is no title to show.
GONE_SLUG = "a-post-that-was-removed"


def site_environment(folder: Path, port: int) -> dict[str, str]:
    return {
        **local_site.environment(folder, port, secret_key="screenshots-only-secret-key"),
        "EMAIL_URL": "memorymail://",
        # gunicorn.conf.py: one worker on this machine's loopback only.
        "BIND_HOST": "127.0.0.1",
        "PORT": str(port),
        "WEB_CONCURRENCY": "1",
        "GUNICORN_LOG_LEVEL": "warning",
    }


def fill_site(folder: Path) -> dict[str, dict]:
    """Sample data in the throwaway databases; returns per team the session cookies and the call
    its admin answers. Runs Django in this process, on the same files the server uses."""
    import django

    django.setup()
    from accounts.models import Role, Team, User
    from blog.models import PostRead
    from testing.sample_site import answered_call, published_episode, tone

    ogg, mp3 = tone(folder / "tone-3.ogg", 3), tone(folder / "tone-6.mp3", 6)
    read_slugs = [
        "why-sqlite-in-production",
        "litefs-replication-explained",
        "team-leaderboards-math",
        "caching-with-a-second-sqlite-file",
    ]
    names = {"red": "Ada", "blue": "Grace", "yellow": "Katherine"}
    teams = {}
    for number, team in enumerate(TEAMS):
        reader = User.objects.create(
            email=f"{team}@example.com", first_name=names[team], team=Team[team.upper()]
        )
        admin = User.objects.create(
            email=f"host-{team}@example.com",
            first_name=f"Host {names[team]}",
            team=Team[team.upper()],
            role=Role.ADMIN,
        )
        # Teams read different amounts, so the standings have a leader.
        for slug in read_slugs[: number + 2]:
            PostRead.objects.create(user=reader, post_slug=slug)
        PostRead.objects.create(user=admin, post_slug=read_slugs[0])
        call = answered_call(
            reader,
            ogg,
            3.0,
            title=f"{names[team]} asks: can one SQLite file carry a busy site?",
            description="We run Postgres for a small blog.\nWould SQLite with LiteFS do?",
            keywords="sqlite, litefs, scaling",
        )
        teams[team] = {
            "reader": session_cookie(reader),
            "admin": session_cookie(admin),
            "call": call.pk,
        }
    PostRead.objects.create(user=User.objects.get(email="red@example.com"), post_slug=GONE_SLUG)
    PostRead.objects.create(client_id="00000000-0000-4000-8000-000000000001", post_slug=POST[6:-1])
    published_episode(mp3, 6.0)
    return teams


def start_server(env: dict[str, str], log: Path) -> subprocess.Popen:
    gunicorn = Path(sys.executable).with_name("gunicorn")
    with log.open("wb") as output:
        server = subprocess.Popen(
            [str(gunicorn), "-c", "gunicorn.conf.py"],
            cwd=ROOT,
            env=env,
            stdout=output,
            stderr=subprocess.STDOUT,
        )
    local_site.wait_until_up(env["SITE_URL"] + "/healthcheck", server, log.read_text)
    return server


def shoot(base: str, teams: dict, output: Path, *, widths: list[int], scheme: str) -> list[Path]:
    from playwright.sync_api import sync_playwright

    saved = []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        for width in widths:
            who = [("anonymous", None, None)] + [
                (team, teams[team]["reader"], teams[team]["admin"]) for team in teams
            ]
            for name, reader_cookie, admin_cookie in who:
                pages = {"home": "/", "post": POST}
                if reader_cookie:
                    pages |= {"me": "/me", "recorder": "/calls/record/"}
                saved += shoot_pages(browser, base, output, f"{name}-{width}", width, scheme,
                                     reader_cookie, pages)  # fmt: skip
                if admin_cookie:
                    staff_page = {"staff-call": f"/calls/admin/{teams[name]['call']}/"}
                    saved += shoot_pages(browser, base, output, f"{name}-{width}", width, scheme,
                                         admin_cookie, staff_page)  # fmt: skip
        browser.close()
    return saved


def shoot_pages(browser, base, output, prefix, width, scheme, cookie, pages) -> list[Path]:
    from django.conf import settings

    context = browser.new_context(
        base_url=base, viewport={"width": width, "height": 900}, color_scheme=scheme
    )
    if scheme != "light":
        prefix = f"{prefix}-{scheme}"
    if cookie:
        context.add_cookies([{"name": settings.SESSION_COOKIE_NAME, "value": cookie, "url": base}])
    page = context.new_page()
    saved = []
    for name, path in pages.items():
        response = page.goto(path)
        if response is None or response.status != 200:
            raise SystemExit(f"{path} answered {response and response.status} for {prefix}")
        if name in ("recorder", "staff-call"):
            # The recorder appears once the script has found a microphone.
            page.locator("[data-recorder]").wait_for(state="visible")
        file = output / f"{prefix}-{name}.png"
        page.screenshot(path=str(file), full_page=True)
        saved.append(file)
    context.close()
    return saved


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("output", type=Path, help="folder for the PNG files (created if missing)")
    parser.add_argument("--widths", default="390,1280", help="viewport widths in CSS pixels")
    parser.add_argument("--teams", default=",".join(TEAMS), help="teams to shoot, e.g. red,blue")
    parser.add_argument(
        "--color-scheme",
        choices=["light", "dark"],
        default="light",
        help="the scheme the browser prefers; dark files are named red-390-dark-home.png",
    )
    args = parser.parse_args()
    widths = [int(width) for width in args.widths.split(",")]
    wanted = [team.strip().lower() for team in args.teams.split(",")]
    if unknown := set(wanted) - set(TEAMS):
        parser.error(f"unknown team(s): {', '.join(sorted(unknown))}; choose from {TEAMS}")
    args.output.mkdir(parents=True, exist_ok=True)

    folder = Path(tempfile.mkdtemp(prefix="litesite-screenshots-"))
    server = None
    try:
        env = site_environment(folder, free_port())
        os.environ.update(env)
        migrate_databases(env)
        manage(env, "collectstatic", "--noinput")
        teams = {team: data for team, data in fill_site(folder).items() if team in wanted}
        server = start_server(env, folder / "gunicorn.log")
        saved = shoot(
            env["SITE_URL"], teams, args.output.resolve(), widths=widths, scheme=args.color_scheme
        )
    finally:
        if server is not None:
            stop(server)
        shutil.rmtree(folder, ignore_errors=True)
    print(f"{len(saved)} screenshots in {args.output}")


if __name__ == "__main__":
    main()
