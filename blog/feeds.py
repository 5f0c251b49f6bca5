"""RSS 2.0 feed of listed posts. Django's syndication framework writes RFC 822 dates."""

from django.conf import settings
from django.contrib.syndication.views import Feed
from django.utils.feedgenerator import Rss201rev2Feed

from blog.content import Post, listed_posts

FEED_POSTS = 20


class LatestPostsFeed(Feed):
    feed_type = Rss201rev2Feed
    title = "litesite blog"
    link = "/blog/"
    description = "Posts about SQLite, LiteFS, Django, replication, caching and podcasting."

    def feed_url(self):
        return settings.SITE_URL + "/blog/rss.xml"

    def items(self) -> list[Post]:
        return listed_posts()[:FEED_POSTS]

    def item_title(self, item: Post) -> str:
        return item.title

    def item_description(self, item: Post) -> str:
        return item.summary

    def item_link(self, item: Post) -> str:
        return item.url

    def item_guid(self, item: Post) -> str:
        return settings.SITE_URL + item.url

    def item_pubdate(self, item: Post):
        return item.published_at

    def item_categories(self, item: Post):
        return item.categories
