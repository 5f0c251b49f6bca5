from django.contrib import admin
from django.urls import include, path

from litesite import health

handler404 = "litesite.errors.page_not_found"
handler500 = "litesite.errors.server_error"

urlpatterns = [
    path("", include("blog.urls")),
    path("", include("accounts.urls")),
    path("calls/", include("calls.urls")),
    path("admin/", admin.site.urls),
    path("healthcheck", health.healthcheck, name="healthcheck"),
]
