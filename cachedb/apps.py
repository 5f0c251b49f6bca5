from django.apps import AppConfig


class CachedbConfig(AppConfig):
    name = "cachedb"
    verbose_name = "Cache database"
