"""A signed-in reader's own calls: record or upload one, listen back, delete."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_POST

from calls import limits
from calls.forms import CallForm
from calls.models import Call
from calls.uploads import (
    accepts_recordings,
    form_errors_response,
    refusal_status,
    uploaded_bytes,
    wants_json,
)
from calls.views.recordings import recording_response
from litesite import metrics


@login_required
@accepts_recordings
def record(request):
    if request.method == "POST":
        form = CallForm(
            request.POST,
            request.FILES,
            oversized=request.oversized_recordings,
            body_too_large=request.body_too_large,
            refusal=limits.refusal_for_call(
                user=request.user, incoming_bytes=uploaded_bytes(request)
            ),
        )
        if form.is_valid():
            try:
                call = form.save(user=request.user)
            except limits.LimitReached as refusal:
                form.refuse(refusal)
            else:
                metrics.upload_accepted(kind="call")
                messages.success(
                    request, "Thanks! Your call is in; we will email you when it is on the air."
                )
                if wants_json(request):
                    return JsonResponse({"url": call.get_absolute_url()}, status=201)
                return redirect(call)
        metrics.upload_refused(kind="call", form=form)
        status = refusal_status(form, default=413 if request.body_too_large else 400)
        if wants_json(request):
            return form_errors_response(form, status=status)
    else:
        form, status = CallForm(), 200
    # Said before anyone records for minutes: what would refuse any recording now (a refused
    # submission already says it in the form).
    notice = None if form.refusal else limits.refusal_for_call(user=request.user, incoming_bytes=0)
    context = {
        "form": form,
        "calls": Call.objects.owned_by(request.user).without_audio(),
        "allowance": limits.allowance(user=request.user),
        "limit_notice": notice,
    }
    response = render(request, "calls/record.html", context, status=status)
    if form.refusal is not None and form.refusal.retry_after:
        response["Retry-After"] = str(form.refusal.retry_after)
    return response


@login_required
def call_detail(request, call_id):
    call = get_object_or_404(Call.objects.owned_by(request.user).without_audio(), pk=str(call_id))
    return render(request, "calls/call_detail.html", {"call": call})


@login_required
def call_audio(request, call_id):
    calls = Call.objects.owned_by(request.user)
    return recording_response(request, calls=calls, call_id=call_id, field="audio")


@login_required
@require_POST
def call_delete(request, call_id):
    call = get_object_or_404(Call.objects.owned_by(request.user).without_audio(), pk=str(call_id))
    call.delete()
    messages.success(request, f"Your call “{call.title}” is deleted.")
    return redirect("calls:record")
