"""The Django admin, signed into through the magic link like the rest of the site.

There are no passwords, so the admin's own login form could never succeed. Its login view
sends visitors to /login?next=<where they were going>; a signed-in reader who is not an
ADMIN gets a plain "admins only" page instead of a redirect loop.
"""

from django.contrib import admin
from django.contrib.admin.apps import AdminConfig as DjangoAdminConfig
from django.contrib.auth import REDIRECT_FIELD_NAME
from django.shortcuts import redirect, render
from django.urls import reverse


class SiteAdmin(admin.AdminSite):
    site_header = "litesite admin"
    site_title = "litesite admin"
    index_title = "Site administration"

    def login(self, request, extra_context=None):
        if self.has_permission(request):
            return redirect("admin:index")
        if request.user.is_authenticated:
            return render(
                request, "admin/not_admin.html", {"site_header": self.site_header}, status=403
            )
        # Imported here: auth.views imports auth's models, and this module loads with the apps.
        from django.contrib.auth.views import redirect_to_login

        next_url = request.GET.get(REDIRECT_FIELD_NAME) or reverse("admin:index")
        return redirect_to_login(next_url, login_url=reverse("accounts:login"))


class AdminConfig(DjangoAdminConfig):
    """Installs SiteAdmin as `admin.site`, so every app's admin.py registers on it."""

    default_site = "accounts.admin_site.SiteAdmin"
