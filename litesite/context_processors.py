from django.conf import settings


def site(request):
    """Values every template may use: the site URL, and where this response was served."""
    return {"SITE_URL": settings.SITE_URL, "DEBUG": settings.DEBUG}
