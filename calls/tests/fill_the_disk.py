"""A reader trying to fill the disk, in a process of its own: run by test_record_view with
DATABASE_URL on a small tmpfs, so the site database sits on a real file system that can fill.

    python -m calls.tests.fill_the_disk RECORDING

Migrates, signs a reader in, sends RECORDING as a call until the site refuses (or 100 times),
then checks that the database still takes the writes every visitor makes: a new session and a
post read. Prints one JSON object on stdout.
"""

import json
import os
import shutil
import sys
from pathlib import Path

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "litesite.settings")

import django  # noqa: E402

django.setup()

from django.core.files.uploadedfile import SimpleUploadedFile  # noqa: E402
from django.core.management import call_command  # noqa: E402
from django.db import OperationalError, connections  # noqa: E402
from django.test import Client  # noqa: E402
from django.test.utils import setup_test_environment  # noqa: E402

from accounts.models import Team, User  # noqa: E402
from blog.models import PostRead  # noqa: E402


def free_bytes() -> int:
    return shutil.disk_usage(Path(connections["default"].settings_dict["NAME"]).parent).free


def main(recording: bytes) -> dict:
    setup_test_environment()  # the test client's host name, email kept in memory
    call_command("migrate", verbosity=0)
    call_command("migrate", database="cache", verbosity=0)
    reader = User.objects.create(email="filler@example.com", first_name="Filler", team=Team.RED)
    client = Client()
    client.force_login(reader)
    uploads = []
    for _ in range(100):
        free_before = free_bytes()
        try:
            response = client.post(
                "/calls/record/",
                {
                    "title": "Another big question",
                    "description": "Large enough to fill the disk a little more each time.",
                    "keywords": "disk",
                    "audio": SimpleUploadedFile("call.wav", recording, "audio/wav"),
                },
                headers={"accept": "application/json"},
            )
        except OperationalError as error:  # what the site did before it kept a floor
            uploads.append({"free_before": free_before, "error": str(error)})
            break
        uploads.append(
            {"free_before": free_before, "status": response.status_code, "body": response.json()}
        )
        if response.status_code != 201:
            break
    after = {"free": free_bytes()}
    try:
        visitor = Client()
        visitor.force_login(
            User.objects.create(email="visitor@example.com", first_name="Vi", team=Team.BLUE)
        )
        PostRead.objects.create(post_slug="readable", client_id="c" * 36)
        after["writes"] = "ok"
    except OperationalError as error:
        after["writes"] = str(error)
    return {"uploads": uploads, "after": after}


if __name__ == "__main__":
    print(json.dumps(main(Path(sys.argv[1]).read_bytes())))
