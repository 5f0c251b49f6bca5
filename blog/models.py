"""Post reads. Posts themselves are Markdown files under content/blog/ (see blog/content.py)."""

import uuid

from django.conf import settings
from django.db import models


def new_uuid() -> str:
    return str(uuid.uuid4())


class PostRead(models.Model):
    """One reader finishing one post. A reader is a user, or else an anonymous client_id."""

    id = models.CharField(primary_key=True, max_length=36, default=new_uuid, editable=False)
    created_at = models.DateTimeField(auto_now_add=True, db_index=False)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="post_reads",
    )
    client_id = models.CharField(max_length=36, null=True, blank=True)
    post_slug = models.CharField(max_length=200)

    class Meta:
        ordering = ["-created_at"]
        indexes = [
            models.Index(fields=["post_slug", "created_at"], name="postread_slug_created"),
            models.Index(fields=["user", "created_at"], name="postread_user_created"),
            models.Index(fields=["client_id", "post_slug"], name="postread_client_slug"),
            models.Index(fields=["created_at"], name="postread_created"),
        ]

    def __str__(self) -> str:
        return f"{self.post_slug} read by {self.user_id or self.client_id}"
