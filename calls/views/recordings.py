"""Serving a stored call recording, seekable, to the people allowed to hear it."""

from django.http import Http404
from django.shortcuts import get_object_or_404

from calls.models import Call
from calls.ranges import ranged_audio_response


def recording_response(request, *, calls, call_id, field: str):
    """The `audio` or `response_audio` of one call from the `calls` a person may see."""
    mime_field = "audio_mime_type" if field == "audio" else "response_mime_type"
    call = get_object_or_404(calls.without_audio().with_size(field), pk=str(call_id))
    if field == "response_audio" and not call.has_response:
        raise Http404("This call has no response yet.")
    size = getattr(call, f"{field}_size") or 0
    rows = Call.objects.filter(pk=call.pk)
    return ranged_audio_response(
        request,
        size=size,
        content_type=getattr(call, mime_field),
        read=lambda start, length: rows.blob_slice(field, start=start, length=length),
        etag=f'"call-{call.pk}-{field}-{call.updated_at.timestamp():.6f}"',
        last_modified=call.updated_at,
    )
