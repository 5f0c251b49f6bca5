"""Settings come from the environment and fail loudly on bad values.

Each case imports the settings module in a fresh interpreter, as gunicorn or manage.py would.
"""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.db import connections

BASE_DIR = Path(__file__).resolve().parents[2]
PROBE = (
    "import json, litesite.settings as s; print(json.dumps({"
    "'DEBUG': s.DEBUG, 'ALLOWED_HOSTS': s.ALLOWED_HOSTS, 'CSRF': s.CSRF_TRUSTED_ORIGINS, "
    "'HSTS': getattr(s, 'SECURE_HSTS_SECONDS', None), "
    "'SECURE_COOKIE': getattr(s, 'SESSION_COOKIE_SECURE', False), "
    "'PROXY': getattr(s, 'SECURE_PROXY_SSL_HEADER', None), 'TRUST_FLY': s.TRUST_FLY_PROXY, "
    "'EMAIL': s.EMAIL_BACKEND, 'DB': str(s.DATABASES['default']['NAME']), "
    "'STATIC': s.STORAGES['staticfiles']['BACKEND']}))"
)
DECLARED = (
    "DEBUG",
    "SECRET_KEY",
    "SITE_URL",
    "DATABASE_URL",
    "CACHE_DATABASE_URL",
    "EMAIL_URL",
    "FLY_APP_NAME",
    "FLY_MACHINE_ID",
    "TRUST_FLY_PROXY",
)
# What Fly sets on every machine it runs.
ON_FLY = {"FLY_APP_NAME": "litesite", "FLY_MACHINE_ID": "e784079b1d4e86"}


def load_settings(tmp_path, **variables):
    env = {k: v for k, v in os.environ.items() if k not in DECLARED and not k.startswith("DJANGO")}
    env |= {
        "DATABASE_URL": f"sqlite:///{tmp_path}/site.sqlite3",
        "CACHE_DATABASE_URL": f"sqlite:///{tmp_path}/cache.sqlite3",
        **variables,
    }
    return subprocess.run(
        [sys.executable, "-c", PROBE], cwd=BASE_DIR, env=env, capture_output=True, text=True
    )


def settings_from(tmp_path, **variables) -> dict:
    result = load_settings(tmp_path, **variables)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def failure_of(tmp_path, **variables) -> str:
    result = load_settings(tmp_path, **variables)
    assert result.returncode != 0
    return result.stderr.strip().splitlines()[-1]


def test_production_refuses_to_start_without_a_secret_key(tmp_path):
    assert "Set SECRET_KEY (required when DEBUG is off)." in failure_of(tmp_path)


def test_development_runs_without_a_secret_key(tmp_path):
    assert settings_from(tmp_path, DEBUG="true")["DEBUG"] is True


@pytest.mark.parametrize(
    ("variables", "message"),
    [
        ({"DEBUG": "ture"}, "DEBUG must be true or false, not 'ture'"),
        ({"SITE_URL": "example.com"}, "SITE_URL must be an http(s) URL"),
        ({"DATABASE_URL": "postgres://u:p@db/site"}, "DATABASE_URL must be a sqlite:/// URL"),
        ({"CACHE_DATABASE_URL": "redis://cache"}, "CACHE_DATABASE_URL must be a sqlite:/// URL"),
        ({"EMAIL_URL": "pigeon://coop"}, "Invalid email schema pigeon"),
        ({"CALLS_MAX_BYTES": "lots"}, "invalid literal for int()"),
        ({"SECURE_SSL_REDIRECT": "sometimes"}, "SECURE_SSL_REDIRECT must be true or false"),
        ({"CALLS_MAX_WAITING_PER_READER": "-1"}, "CALLS_MAX_WAITING_PER_READER must be 0 or"),
        ({"TRUST_FLY_PROXY": "maybe"}, "TRUST_FLY_PROXY must be true or false, not 'maybe'"),
        ({"MAGIC_LINK_LIMIT_PER_EMAIL": "0"}, "MAGIC_LINK_LIMIT_PER_EMAIL must be 1 or more"),
        ({"MAGIC_LINK_LIMIT_PER_CLIENT": "-1"}, "MAGIC_LINK_LIMIT_PER_CLIENT must be 1 or more"),
        # The site database must be the file LiteFS's -pos and .primary are named after.
        ({"LITEFS_DIR": "/litefs"}, "DATABASE_URL must name site.sqlite3 directly inside"),
    ],
)
def test_bad_values_stop_start_up_with_a_clear_message(tmp_path, variables, message):
    assert message in failure_of(tmp_path, SECRET_KEY="k", **variables)


def test_the_cache_database_may_not_live_in_the_litefs_mount(tmp_path):
    mount = tmp_path / "litefs"
    failure = failure_of(
        tmp_path,
        SECRET_KEY="k",
        LITEFS_DIR=str(mount),
        DATABASE_URL=f"sqlite:///{mount}/site.sqlite3",
        CACHE_DATABASE_URL=f"sqlite:///{mount}/cache.sqlite3",
    )
    assert "CACHE_DATABASE_URL must be outside LITEFS_DIR" in failure


def test_hosts_and_csrf_origins_follow_the_site_url(tmp_path):
    loaded = settings_from(tmp_path, SECRET_KEY="k", SITE_URL="https://litesite.example/")
    assert loaded["ALLOWED_HOSTS"] == ["litesite.example"]
    assert loaded["CSRF"] == ["https://litesite.example"]


def test_production_turns_on_https_protections(tmp_path):
    loaded = settings_from(tmp_path, SECRET_KEY="k", SITE_URL="https://litesite.example", **ON_FLY)
    assert loaded["HSTS"] >= 31536000
    assert loaded["SECURE_COOKIE"] is True
    assert loaded["PROXY"] == ["HTTP_X_FORWARDED_PROTO", "https"]
    assert loaded["STATIC"] == "whitenoise.storage.CompressedManifestStaticFilesStorage"


@pytest.mark.parametrize(
    ("variables", "trusted"),
    [
        ({}, False),
        (ON_FLY, True),
        # One of the two alone is more likely a stray variable than a Fly machine.
        ({"FLY_APP_NAME": "litesite"}, False),
        ({"FLY_MACHINE_ID": "e784079b1d4e86"}, False),
        ({**ON_FLY, "TRUST_FLY_PROXY": "false"}, False),
        ({"TRUST_FLY_PROXY": "true"}, True),
    ],
)
def test_fly_proxy_headers_are_trusted_on_a_fly_machine_unless_overridden(
    tmp_path, variables, trusted
):
    loaded = settings_from(
        tmp_path, SECRET_KEY="k", SITE_URL="https://litesite.example", **variables
    )
    assert loaded["TRUST_FLY"] is trusted
    expected_proxy_header = ["HTTP_X_FORWARDED_PROTO", "https"] if trusted else None
    assert loaded["PROXY"] == expected_proxy_header


def test_email_defaults_to_the_console_and_follows_email_url(tmp_path):
    assert settings_from(tmp_path, DEBUG="true")["EMAIL"].endswith("console.EmailBackend")
    smtp = settings_from(tmp_path, DEBUG="true", EMAIL_URL="smtp+tls://u:p@mail.example:587")
    assert smtp["EMAIL"].endswith("smtp.EmailBackend")


def test_filemail_writes_emails_into_the_absolute_folder_it_names(tmp_path):
    mail = tmp_path / "mail"
    send = (
        "import django; django.setup(); from django.core.mail import send_mail; "
        "send_mail('Hello', 'Body', 'a@example.com', ['b@example.com'])"
    )
    env = {k: v for k, v in os.environ.items() if k not in DECLARED and not k.startswith("DJANGO")}
    env |= {
        "DEBUG": "true",
        "DATABASE_URL": f"sqlite:///{tmp_path}/site.sqlite3",
        "CACHE_DATABASE_URL": f"sqlite:///{tmp_path}/cache.sqlite3",
        "EMAIL_URL": f"filemail://{mail}",
        "DJANGO_SETTINGS_MODULE": "litesite.settings",
    }
    result = subprocess.run(
        [sys.executable, "-c", send], cwd=BASE_DIR, env=env, capture_output=True, text=True
    )
    assert result.returncode == 0, result.stderr
    [written] = list(mail.iterdir())
    assert "Subject: Hello" in written.read_text()
    assert not (BASE_DIR / str(mail).lstrip("/")).exists()


def test_relative_database_paths_are_inside_the_project_and_their_folder_is_made(tmp_path):
    loaded = settings_from(
        tmp_path, DEBUG="true", DATABASE_URL="sqlite:///var/settings-test/x.sqlite3"
    )
    assert loaded["DB"] == str(BASE_DIR / "var" / "settings-test" / "x.sqlite3")
    assert (BASE_DIR / "var" / "settings-test").is_dir()
    (BASE_DIR / "var" / "settings-test").rmdir()


@pytest.mark.django_db
@pytest.mark.parametrize("alias", ["default", "cache"])
def test_both_sqlite_databases_are_tuned_for_concurrent_use(alias):
    connection = connections[alias]
    with connection.cursor() as cursor:
        pragmas = {
            name: cursor.execute(f"PRAGMA {name}").fetchone()[0]
            for name in ("journal_mode", "synchronous", "busy_timeout", "mmap_size", "foreign_keys")
        }
    assert pragmas == {
        "journal_mode": "wal",
        "synchronous": 1,  # NORMAL
        # The cache skips a write rather than queue behind another writer for long.
        "busy_timeout": {"default": 5000, "cache": 100}[alias],
        "mmap_size": 0,
        "foreign_keys": 1,
    }
    assert connection.settings_dict["OPTIONS"]["transaction_mode"] == "IMMEDIATE"
    assert connection.settings_dict["CONN_MAX_AGE"] is None
