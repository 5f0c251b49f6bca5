"""Receiving recordings: a size limit enforced while the body streams in, before anything is kept.

Django only lets a view change its upload handlers before the body is read, and the CSRF
middleware reads the body. So the views that accept recordings are CSRF-exempt at the edge and
check CSRF themselves once the handlers are in place, as Django's documentation prescribes
("Modifying upload handlers on the fly").
"""

from functools import wraps

from django.conf import settings
from django.core.exceptions import RequestDataTooBig
from django.core.files.uploadhandler import FileUploadHandler, SkipFile
from django.http import JsonResponse, QueryDict
from django.utils.datastructures import MultiValueDict
from django.views.decorators.csrf import csrf_exempt, csrf_protect


class RecordingSizeLimit(FileUploadHandler):
    """Stops receiving a file once it passes CALLS_MAX_BYTES and remembers that it did.

    SkipFile drops only that file; the form's other fields are still parsed, so the form can be
    shown again with what the person typed.
    """

    def __init__(self, request=None):
        super().__init__(request)
        self.max_bytes = settings.CALLS_MAX_BYTES
        self.oversized_fields: set[str] = set()
        self.body_too_large = False
        self.received = 0

    def handle_raw_input(self, input_data, META, content_length, boundary, encoding=None):
        # A body larger than a whole recording plus all the form fields can hold cannot be a
        # valid submission: answer without reading it at all.
        if content_length > self.max_bytes + settings.DATA_UPLOAD_MAX_MEMORY_SIZE:
            self.body_too_large = True
            return QueryDict(), MultiValueDict()
        return None

    def new_file(self, *args, **kwargs):
        super().new_file(*args, **kwargs)
        self.received = 0

    def receive_data_chunk(self, raw_data, start):
        self.received += len(raw_data)
        if self.received > self.max_bytes:
            self.oversized_fields.add(self.field_name)
            raise SkipFile
        return raw_data

    def file_complete(self, file_size):
        return None  # the next handlers build the file


def accepts_recordings(view):
    """Wrap a view that receives recordings; it finds `request.oversized_recordings` (a set of
    field names) and `request.body_too_large` (the whole body was refused) set for its form."""

    protected = csrf_protect(view)

    @csrf_exempt
    @wraps(view)
    def wrapper(request, *args, **kwargs):
        request.oversized_recordings = set()
        request.body_too_large = False
        if request.method != "POST":
            return protected(request, *args, **kwargs)
        limit = RecordingSizeLimit(request)
        request.upload_handlers.insert(0, limit)
        try:
            request.POST  # noqa: B018 - parse now, with the size limit in place
        except RequestDataTooBig:
            # Form fields over DATA_UPLOAD_MAX_MEMORY_SIZE: nothing of it can be used.
            request._post, request._files = QueryDict(), MultiValueDict()
            limit.body_too_large = True
        if limit.body_too_large:
            # The view gets an empty form that it can only reject, so skipping the CSRF check
            # (there is no token to check) changes nothing.
            request.body_too_large = True
            return view(request, *args, **kwargs)
        request.oversized_recordings = limit.oversized_fields
        return protected(request, *args, **kwargs)

    return wrapper


def wants_json(request) -> bool:
    """The recorder script submits with XHR and asks for JSON; a plain form post gets HTML."""
    return "application/json" in request.headers.get("Accept", "")


def uploaded_bytes(request) -> int:
    """The size of the recording received, before anything has looked inside it."""
    upload = request.FILES.get("audio")
    return upload.size if upload is not None else 0


def refusal_status(form, *, default: int) -> int:
    """429 or 507 when a limit refused the recording, else `default`."""
    return form.refusal.status if form.refusal is not None else default


def form_errors_response(form, *, status: int = 400) -> JsonResponse:
    """The errors the recorder script shows next to each field, in Django's own JSON shape."""
    response = JsonResponse({"errors": form.errors.get_json_data()}, status=status)
    if form.refusal is not None and form.refusal.retry_after:
        response["Retry-After"] = str(form.refusal.retry_after)
    return response
