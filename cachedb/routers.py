from typing import Any

from django.db import models


class CacheRouter:
    """Send the cachedb app to the unreplicated `cache` database and everything else to `default`.

    The cache file is never replicated by LiteFS, so each machine (replicas included) can write it.
    Relations across the two databases are refused: SQLite cannot enforce them and a replica's
    cache would point at rows it may not have yet.
    """

    cache_app = "cachedb"
    cache_alias = "cache"

    def _alias_for(self, app_label: str) -> str:
        return self.cache_alias if app_label == self.cache_app else "default"

    def db_for_read(self, model: type[models.Model], **hints: Any) -> str:
        return self._alias_for(model._meta.app_label)

    def db_for_write(self, model: type[models.Model], **hints: Any) -> str:
        return self._alias_for(model._meta.app_label)

    def allow_relation(self, obj1: models.Model, obj2: models.Model, **hints: Any) -> bool:
        return self._alias_for(obj1._meta.app_label) == self._alias_for(obj2._meta.app_label)

    def allow_migrate(
        self, db: str, app_label: str, model_name: str | None = None, **hints: Any
    ) -> bool:
        return db == self._alias_for(app_label)
