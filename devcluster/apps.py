from django.apps import AppConfig


class DevclusterConfig(AppConfig):
    """The emulated LiteFS + Fly cluster for development and tests: `manage.py cluster`.

    Installed only with DEBUG or DEVCLUSTER (litesite/settings.py); the Docker image leaves the
    folder out.
    """

    name = "devcluster"
    verbose_name = "Emulated LiteFS cluster"
