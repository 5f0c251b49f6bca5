"""Recorded calls from readers, and the podcast episodes made from them."""

import uuid

from django.conf import settings
from django.db import models


def new_uuid() -> str:
    return str(uuid.uuid4())


class Call(models.Model):
    """A reader's recorded question, waiting for a staff response."""

    id = models.CharField(primary_key=True, max_length=36, default=new_uuid, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    title = models.CharField(max_length=80)
    description = models.TextField(max_length=1000)
    keywords = models.CharField(max_length=100)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="calls")
    audio = models.BinaryField()
    audio_mime_type = models.CharField(max_length=100)
    duration_seconds = models.FloatField(default=0)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return self.title


class Episode(models.Model):
    """A published call: intro + call + staff response + outro, as one MP3."""

    number = models.PositiveIntegerField(unique=True)
    title = models.CharField(max_length=80)
    description = models.TextField(max_length=1000)
    keywords = models.CharField(max_length=100)
    published_at = models.DateTimeField()
    audio = models.BinaryField()
    audio_mime_type = models.CharField(max_length=100, default="audio/mpeg")
    duration_seconds = models.FloatField()
    size_bytes = models.PositiveIntegerField()
    caller_name = models.CharField(max_length=60)

    class Meta:
        ordering = ["-number"]

    def __str__(self) -> str:
        return f"#{self.number} {self.title}"
