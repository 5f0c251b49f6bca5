"""The podcast feed: RSS 2.0 with the iTunes tags Apple Podcasts and other directories read."""

from django.conf import settings
from django.contrib.syndication.views import Feed
from django.templatetags.static import static
from django.urls import reverse
from django.utils.feedgenerator import Enclosure, Rss201rev2Feed

from calls.models import Episode

ITUNES_NS = "http://www.itunes.com/dtds/podcast-1.0.dtd"
FEED_EPISODES = 100


def absolute(path: str) -> str:
    return settings.SITE_URL + path


def itunes_duration(seconds: float) -> str:
    seconds = round(seconds)
    return f"{seconds // 3600:02d}:{seconds % 3600 // 60:02d}:{seconds % 60:02d}"


class PodcastRss(Rss201rev2Feed):
    """Rss201rev2Feed plus the itunes: namespace on the channel and on each item."""

    content_type = "application/rss+xml; charset=utf-8"

    def rss_attributes(self):
        return {**super().rss_attributes(), "xmlns:itunes": ITUNES_NS}

    def add_root_elements(self, handler):
        super().add_root_elements(handler)
        feed = self.feed
        handler.addQuickElement("itunes:author", feed["itunes_author"])
        handler.addQuickElement("itunes:summary", feed["description"])
        handler.addQuickElement("itunes:type", "episodic")
        handler.addQuickElement("itunes:explicit", "false")
        handler.addQuickElement("itunes:image", attrs={"href": feed["itunes_image"]})
        handler.addQuickElement("itunes:category", attrs={"text": feed["itunes_category"]})
        handler.startElement("itunes:owner", {})
        handler.addQuickElement("itunes:name", feed["itunes_author"])
        handler.addQuickElement("itunes:email", feed["itunes_email"])
        handler.endElement("itunes:owner")
        handler.startElement("image", {})
        handler.addQuickElement("url", feed["itunes_image"])
        handler.addQuickElement("title", feed["title"])
        handler.addQuickElement("link", feed["link"])
        handler.endElement("image")

    def add_item_elements(self, handler, item):
        super().add_item_elements(handler, item)
        handler.addQuickElement("itunes:title", item["itunes_title"])
        handler.addQuickElement("itunes:author", item["itunes_author"])
        handler.addQuickElement("itunes:duration", item["itunes_duration"])
        handler.addQuickElement("itunes:episode", str(item["itunes_episode"]))
        handler.addQuickElement("itunes:episodeType", "full")
        handler.addQuickElement("itunes:explicit", "false")
        handler.addQuickElement("itunes:image", attrs={"href": item["itunes_image"]})


class PodcastFeed(Feed):
    feed_type = PodcastRss
    title = "litesite calls"
    description = (
        "Readers call in with questions about building small, fast websites; we answer. "
        "Record your own question at the site."
    )
    language = "en"

    # Every address in the feed is on SITE_URL, not on whatever host the request came in by:
    # directories keep these URLs for years. (A Feed instance is shared by all threads, so it
    # must not keep the request either.)
    def link(self):
        return absolute(reverse("calls:episode-list"))

    def feed_url(self):
        return absolute(reverse("calls:podcast-feed"))

    def author_name(self):
        return settings.PODCAST_AUTHOR

    def feed_copyright(self):
        return f"© {settings.PODCAST_AUTHOR}"

    def cover_url(self) -> str:
        return absolute(static("calls/cover.png"))

    def feed_extra_kwargs(self, obj):
        return {
            "itunes_author": settings.PODCAST_AUTHOR,
            "itunes_category": settings.PODCAST_CATEGORY,
            "itunes_image": self.cover_url(),
            "itunes_email": settings.DEFAULT_FROM_EMAIL.rsplit("<", 1)[-1].strip(" >"),
        }

    def items(self):
        return Episode.objects.without_audio()[:FEED_EPISODES]

    def item_title(self, episode):
        return f"{episode.number}. {episode.title}"

    def item_description(self, episode):
        return f"{episode.description}\n\nCaller: {episode.caller_name}."

    def item_pubdate(self, episode):
        return episode.published_at

    def item_link(self, episode):
        return absolute(episode.get_absolute_url())

    def item_guid(self, episode):
        # Stable across title edits, so apps do not list an episode twice.
        return absolute(f"{reverse('calls:episode-list')}episode-{episode.number}")

    item_guid_is_permalink = False

    def item_author_name(self, episode):
        return episode.caller_name

    def item_categories(self, episode):
        return episode.keyword_list()

    def item_enclosures(self, episode):
        url = absolute(episode.get_audio_url())
        return [Enclosure(url, str(episode.size_bytes), episode.audio_mime_type)]

    def item_extra_kwargs(self, episode):
        return {
            "itunes_title": episode.title,
            "itunes_author": episode.caller_name,
            "itunes_duration": itunes_duration(episode.duration_seconds),
            "itunes_episode": episode.number,
            "itunes_image": self.cover_url(),
        }
