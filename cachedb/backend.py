from django.core.cache.backends.db import DatabaseCache


class SQLiteCache(DatabaseCache):
    """Django's cache API on the cache database. (Placeholder until cachedb lands.)"""

    def __init__(self, location, params):
        super().__init__("cache_entry_django", params)
