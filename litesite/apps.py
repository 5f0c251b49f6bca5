from django.apps import AppConfig


class LitesiteConfig(AppConfig):
    """The project package is an app too, for its cross-cutting management commands."""

    name = "litesite"
