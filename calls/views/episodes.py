"""Public pages: the episodes index, one episode, and its audio (seekable)."""

from django.core.paginator import Paginator
from django.shortcuts import get_object_or_404, redirect, render

from calls.models import Episode
from calls.ranges import ranged_audio_response

EPISODES_PER_PAGE = 20


def episode_list(request):
    episodes = Paginator(Episode.objects.without_audio(), EPISODES_PER_PAGE)
    page = episodes.get_page(request.GET.get("page"))
    return render(request, "calls/episode_list.html", {"page": page})


def episode_detail(request, number: int, slug: str):
    episode = get_object_or_404(Episode.objects.without_audio(), number=number)
    # Titles can be edited; old links keep working and land on the current address.
    if slug != episode.slug:
        return redirect(episode, permanent=True)
    return render(request, "calls/episode_detail.html", {"episode": episode})


def episode_audio(request, number: int, slug: str):
    # The slug is not checked: podcast apps keep enclosure URLs even if the title changes.
    episode = get_object_or_404(Episode.objects.without_audio(), number=number)
    rows = Episode.objects.filter(pk=episode.pk)
    return ranged_audio_response(
        request,
        size=episode.size_bytes,
        content_type=episode.audio_mime_type,
        read=lambda start, length: rows.blob_slice("audio", start=start, length=length),
        etag=f'"episode-{episode.number}-{episode.size_bytes}-{episode.published_at.timestamp():.0f}"',
        last_modified=episode.published_at,
        cache_control="public, max-age=86400",
    )
