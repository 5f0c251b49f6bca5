from django.conf import settings

from litesite import litefs


def site(request):
    """Values every template may use: the site URL, and where this response was served.

    PRIMARY_INSTANCE_ID is the primary's Fly machine id (None standalone or while unknown). Pages
    that upload bodies over 1 MB send it as `fly-force-instance-id`, since Fly cannot replay them.
    """
    return {
        "SITE_URL": settings.SITE_URL,
        "DEBUG": settings.DEBUG,
        "FLY_REGION": settings.FLY_REGION,
        "PRIMARY_INSTANCE_ID": litefs.primary_hostname(),
    }
