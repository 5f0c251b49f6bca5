"""A site done with the cut-over deletes the legacy app and loses nothing else.

The test does to a copy of the project what the README tells an operator to do: delete the
"legacy" line of INSTALLED_APPS and the legacy/ folder. In that copy Django's system checks must
pass, and so must the tests of the code the app was cut out of: accounts (sessions and sign-in,
beside which the old cookie's middleware sat) and the project package (settings, middleware,
health, errors, gunicorn and the deployment files). The other apps' tests are collected, so
every test module is imported with what it imports, and the test databases are built by every
app's migrations; they are not run: they never knew the legacy code, and a second run of the
whole suite would double the suite's time where this subset adds about half a minute. Browser,
cluster and Postgres tests are left out for the same reason.
"""

import os
import shutil
import subprocess
import sys
from pathlib import Path

PROJECT_DIR = Path(__file__).resolve().parents[2]
SUBSET = [
    "-m",
    "not browser and not cluster and not postgres",
    "--deselect",
    "blog/",
    "--deselect",
    "calls/",
    "--deselect",
    "cachedb/",
    # It imports the site as the Docker image does, from the installed package: the editable
    # install points at this checkout, not at the copy, whose settings still list the app.
    "--deselect",
    "litesite/tests/test_deploy_files.py::test_the_site_runs_where_the_development_cluster_is_not",
]
# Local state and caches stay behind; so does the app itself.
LEFT_OUT = {"legacy", ".git", ".venv", "var", ".pytest_cache", ".ruff_cache", "htmlcov"}

# The editable install (pip install -e) maps `legacy` to this checkout from any folder, so every
# process of the run (pytest, manage.py, the gunicorns the tests start) is made to find it gone,
# as it would be. psycopg, which only the import used, goes with it.
GONE = '''
import sys


class Deleted:
    """legacy/ and the psycopg dependency, as if they had been removed."""

    @staticmethod
    def find_spec(name, path=None, target=None):
        if name.partition(".")[0] in ("legacy", "psycopg"):
            raise ModuleNotFoundError(f"No module named {name!r}", name=name)
        return None


sys.meta_path.insert(0, Deleted)
'''


def copy_without_legacy(destination: Path) -> Path:
    def left_out(folder: str, names: list[str]) -> set[str]:
        if Path(folder) == PROJECT_DIR:
            return {name for name in names if name in LEFT_OUT or name.endswith(".egg-info")}
        return {name for name in names if name == "__pycache__"}

    shutil.copytree(PROJECT_DIR, destination, ignore=left_out, symlinks=True)
    settings_file = destination / "litesite" / "settings.py"
    lines = settings_file.read_text().splitlines(keepends=True)
    kept = [line for line in lines if line.strip() != '"legacy",']
    assert len(lines) - len(kept) == 1, 'settings.py should list "legacy", on a line of its own'
    settings_file.write_text("".join(kept))
    return destination


def run(site: Path, blocker: Path, *args: str) -> subprocess.CompletedProcess:
    env = {name: value for name, value in os.environ.items() if not name.startswith("PYTEST_")}
    env.update(
        PYTHONPATH=str(blocker),
        # The copy's own databases, never the outer run's.
        DATABASE_URL=f"sqlite:///{site / 'var' / 'site.sqlite3'}",
        CACHE_DATABASE_URL=f"sqlite:///{site / 'var' / 'cache.sqlite3'}",
    )
    return subprocess.run(
        [sys.executable, *args],
        cwd=site,
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
    )


def test_the_site_passes_its_checks_and_tests_with_the_legacy_app_deleted(tmp_path):
    site = copy_without_legacy(tmp_path / "site")
    blocker = tmp_path / "gone"
    blocker.mkdir()
    (blocker / "sitecustomize.py").write_text(GONE)

    check = run(site, blocker, "manage.py", "check")
    assert check.returncode == 0, check.stderr

    tests = run(site, blocker, "-m", "pytest", "-q", "-x", "-p", "no:cacheprovider", *SUBSET)
    assert tests.returncode == 0, tests.stdout[-6000:] + tests.stderr[-2000:]
    assert " passed" in tests.stdout.splitlines()[-1]


def test_an_import_of_the_deleted_app_fails_in_that_copy(tmp_path):
    """The harness itself: in the copy, the legacy app really is gone."""
    site = copy_without_legacy(tmp_path / "site")
    blocker = tmp_path / "gone"
    blocker.mkdir()
    (blocker / "sitecustomize.py").write_text(GONE)

    result = run(site, blocker, "-c", "import legacy.middleware")

    assert result.returncode == 1
    assert "No module named 'legacy'" in result.stderr
    assert not (site / "legacy").exists()
