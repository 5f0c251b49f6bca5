"""Error pages that never touch the database, so they render even when it is the problem."""

from django.http import HttpResponseNotFound, HttpResponseServerError
from django.template import loader


def page_not_found(request, exception):
    template = loader.get_template("404.html")
    return HttpResponseNotFound(template.render({"request_path": request.path}))


def server_error(request):
    template = loader.get_template("500.html")
    return HttpResponseServerError(template.render({}))
