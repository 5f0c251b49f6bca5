"""Staff: pending calls, listen, record or upload a response, publish (or discard)."""

from functools import wraps

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_POST

from calls import audio, limits
from calls.forms import ResponseForm
from calls.models import Call
from calls.publishing import CallerNotEmailed, CannotPublish, publish_call
from calls.uploads import (
    accepts_recordings,
    form_errors_response,
    refusal_status,
    uploaded_bytes,
    wants_json,
)
from calls.views.recordings import recording_response
from litesite import metrics


def staff_required(view):
    @login_required
    @wraps(view)
    def wrapper(request, *args, **kwargs):
        if not request.user.is_staff:
            raise PermissionDenied("Only staff can answer and publish calls.")
        return view(request, *args, **kwargs)

    return wrapper


def pending_call(call_id) -> Call:
    return get_object_or_404(Call.objects.pending().without_audio(), pk=str(call_id))


def render_call(request, call, *, form=None, publish_error="", status=200):
    context = {"call": call, "form": form or ResponseForm(), "publish_error": publish_error}
    return render(request, "calls/staff_call.html", context, status=status)


@staff_required
def pending_calls(request):
    calls = Call.objects.pending().without_audio()
    return render(request, "calls/staff_list.html", {"calls": calls})


@staff_required
def call_page(request, call_id):
    return render_call(request, pending_call(call_id))


@staff_required
def call_audio(request, call_id):
    return recording_response(request, calls=Call.objects.all(), call_id=call_id, field="audio")


@staff_required
def response_audio(request, call_id):
    return recording_response(
        request, calls=Call.objects.all(), call_id=call_id, field="response_audio"
    )


@staff_required
@require_POST
@accepts_recordings
def upload_response(request, call_id):
    call = pending_call(call_id)
    form = ResponseForm(
        request.POST,
        request.FILES,
        oversized=request.oversized_recordings,
        body_too_large=request.body_too_large,
        refusal=limits.refusal_for_response(incoming_bytes=uploaded_bytes(request)),
    )
    if form.is_valid():
        try:
            form.save(call=call)
        except limits.StorageLow as refusal:
            form.refuse(refusal)
    if not form.is_valid():
        metrics.upload_refused(kind="response", form=form)
        status = refusal_status(form, default=413 if request.body_too_large else 400)
        if wants_json(request):
            return form_errors_response(form, status=status)
        return render_call(request, call, form=form, status=status)
    metrics.upload_accepted(kind="response")
    messages.success(request, "Response saved. Listen to it, then publish.")
    if wants_json(request):
        return JsonResponse({"url": call.get_staff_url()}, status=201)
    return redirect(call.get_staff_url())


@staff_required
@require_POST
def publish(request, call_id):
    call = get_object_or_404(Call.objects.pending(), pk=str(call_id))
    try:
        episode = publish_call(call=call)
    except CallerNotEmailed as error:
        # Nothing was published: the email is part of the publishing transaction.
        return render_call(request, call, publish_error=str(error), status=502)
    except CannotPublish as error:
        return render_call(request, call, publish_error=str(error), status=409)
    except limits.StorageLow as error:
        return render_call(request, call, publish_error=str(error), status=507)
    except audio.AudioProcessingError as error:
        return render_call(request, call, publish_error=str(error), status=422)
    messages.success(
        request, f"Published episode {episode.number}; {call.user.first_name} has been emailed."
    )
    return redirect(episode)


@staff_required
@require_POST
def discard(request, call_id):
    call = pending_call(call_id)
    call.delete()
    messages.success(request, f"Discarded the call “{call.title}”.")
    return redirect("calls:staff-list")
