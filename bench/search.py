"""What does one blog search cost, for typical and for adversarial queries?

    .venv/bin/python bench/search.py [--rounds 25] [--copies 1]

Builds throwaway databases in a temporary directory and a content folder holding the sample
posts from content/ (--copies N: N copies of each, under new slugs, for a bigger blog), then asks
for `/blog/?q=...` through the whole Django stack in this process (middleware, view, templates),
round-robin over the queries so that drift of the machine touches them all alike. Prints the
median time per query and that median as a multiple of the typical search: the median of the
typical queries measured in the same run. Goal (issue 14): no query costs more than 3x a typical
search.

Figures are for this machine and this run only; compare the multiples, not the milliseconds.
"""

import argparse
import os
import shutil
import statistics
import string
import sys
import tempfile
import time
import warnings
from pathlib import Path
from urllib.parse import urlencode

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # before bench/, whose blog.py would hide the blog app

from devcluster.harness import migrate_databases  # noqa: E402

TYPICAL = ["replication", "sqlite wal", "full text search", "podcast", "backups"]


def adversarial() -> dict[str, str]:
    two_letters = [a + b for a in string.ascii_lowercase for b in "aeiou"]
    words = (ROOT / "content" / "blog" / "full-text-search-with-fts5" / "index.md").read_text()
    distinct_words = list(dict.fromkeys(w.lower() for w in words.split() if w.isalpha()))
    return {
        "repeated one-letter prefixes a*a*... (12)": "a*" * 12,
        "repeated one-letter prefixes a*a*... (100)": "a*" * 100,
        "distinct one-letter words a b c ... z": " ".join(string.ascii_lowercase),
        "one word of 100 letters joined by _": "_".join("a" * 100),
        "100 distinct two-letter prefixes": " ".join(two_letters[:100]),
        "100 distinct words from a post": " ".join(distinct_words[:100]),
        "a prefix chain r re rep repl ...": " ".join("replicating"[:n] for n in range(1, 12)),
        "very long query (20,000 characters)": "replication " * 1700,
        "quotes and operators": '"a" OR "b" NEAR(c d) title:x AND * ^e -f +g "" (h) ' * 6,
        "common two-letter prefixes": "re th an in co de st pr se ma li wa",
    }


def environment(directory: Path) -> dict[str, str]:
    return {
        **os.environ,
        "DEBUG": "false",
        "SECRET_KEY": "bench-only-secret-key",
        "SITE_URL": "http://127.0.0.1:8000",
        "DATABASE_URL": f"sqlite:///{directory}/site.sqlite3",
        "CACHE_DATABASE_URL": f"sqlite:///{directory}/cache.sqlite3",
        "CONTENT_DIR": str(directory / "content"),
        "LOG_LEVEL": "WARNING",
        "DJANGO_SETTINGS_MODULE": "litesite.settings",
    }


def copy_content(directory: Path, copies: int) -> int:
    source = ROOT / "content" / "blog"
    target = directory / "content" / "blog"
    target.mkdir(parents=True)
    count = 0
    for folder in sorted(path for path in source.iterdir() if path.is_dir()):
        for number in range(copies):
            name = folder.name if number == 0 else f"{folder.name}-{number}"
            shutil.copytree(folder, target / name)
            count += 1
    return count


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=25, help="requests per query")
    parser.add_argument("--copies", type=int, default=1, help="copies of each sample post")
    args = parser.parse_args()
    directory = Path(tempfile.mkdtemp(prefix="litesite-bench-search-"))
    try:
        posts = copy_content(directory, args.copies)
        env = environment(directory)
        migrate_databases(env)
        os.environ.update(env)
        import django

        django.setup()
        # WhiteNoise warns that STATIC_ROOT is missing (no `collectstatic` here); no page needs it.
        warnings.filterwarnings("ignore", message="No directory at")
        from django.conf import settings
        from django.test import Client

        # Without `collectstatic` there is no manifest; file names are looked up as they are.
        settings.STORAGES = {
            **settings.STORAGES,
            "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
        }
        client = Client(HTTP_HOST="127.0.0.1")
        queries = {f"typical: {query}": query for query in TYPICAL} | adversarial()
        urls = {name: "/blog/?" + urlencode({"q": query}) for name, query in queries.items()}
        for url in urls.values():  # warm: the index, compiled posts, fragments
            assert client.get(url).status_code == 200
        timings: dict[str, list[float]] = {name: [] for name in urls}
        for _ in range(args.rounds):
            for name, url in urls.items():
                started = time.perf_counter()
                response = client.get(url)
                timings[name].append((time.perf_counter() - started) * 1000)
                assert response.status_code == 200, (name, response.status_code)
        typical = statistics.median(
            t for name, values in timings.items() if name.startswith("typical") for t in values
        )
        print(
            f"{posts} posts, {args.rounds} requests per query; typical search (median of the "
            f"typical queries) {typical:.2f} ms"
        )
        worst = 0.0
        for name, values in timings.items():
            median = statistics.median(values)
            multiple = median / typical
            if not name.startswith("typical"):
                worst = max(worst, multiple)
            print(f"  {name:<48} {median:>8.2f} ms   {multiple:>5.1f}x typical")
        goal = "met" if worst <= 3 else "MISSED"
        print(f"worst adversarial query: {worst:.1f}x typical; goal <= 3x: {goal}")
    finally:
        shutil.rmtree(directory, ignore_errors=True)


if __name__ == "__main__":
    main()
