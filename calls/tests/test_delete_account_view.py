"""/me/delete: the reader's recorded calls and uploads go with their account."""

import pytest

from calls.models import Call, CallUpload

pytestmark = pytest.mark.django_db


def test_deleting_the_account_deletes_the_readers_calls_and_uploads_only(
    reader_client, reader, other_reader, make_call
):
    make_call(reader)
    CallUpload.objects.create(user=reader, size_bytes=1000)
    theirs = make_call(other_reader)
    CallUpload.objects.create(user=other_reader, size_bytes=2000)

    response = reader_client.post("/me/delete", {"confirm_email": reader.email})
    assert response.status_code == 302
    assert list(Call.objects.all()) == [theirs]
    assert list(CallUpload.objects.values_list("size_bytes", flat=True)) == [2000]
