from django.apps import AppConfig


class LegacyConfig(AppConfig):
    """The cut-over from the old Postgres site. No models: it writes into accounts, blog and
    calls, whose migrations own every table it fills."""

    name = "legacy"
    verbose_name = "Cut-over from the old Postgres site"
