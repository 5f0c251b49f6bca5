"""sitemap.xml: the home page, the blog index and every listed post."""

from django.contrib.sitemaps import Sitemap
from django.urls import reverse

from blog.content import Post, listed_posts


class PagesSitemap(Sitemap):
    changefreq = "daily"
    priority = 0.8

    def items(self) -> list[str]:
        return ["blog:home", "blog:index"]

    def location(self, item: str) -> str:
        return reverse(item)


class PostsSitemap(Sitemap):
    changefreq = "monthly"
    priority = 0.6

    def items(self) -> list[Post]:
        return listed_posts()

    def location(self, item: Post) -> str:
        return item.url

    def lastmod(self, item: Post):
        return item.date


SITEMAPS = {"pages": PagesSitemap, "posts": PostsSitemap}
