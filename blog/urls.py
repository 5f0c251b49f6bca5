from django.contrib.sitemaps.views import sitemap
from django.urls import path, re_path

from blog import views
from blog.feeds import LatestPostsFeed
from blog.sitemaps import SITEMAPS

app_name = "blog"

# Addresses keep the old site's shape (see DESIGN.md); files answer with or without a final slash.
urlpatterns = [
    path("", views.home, name="home"),
    path("blog/", views.post_index, name="index"),
    re_path(r"^blog/rss\.xml/?$", LatestPostsFeed(), name="rss"),
    re_path(r"^blog\.json/?$", views.posts_json, name="json"),
    re_path(r"^sitemap\.xml/?$", sitemap, {"sitemaps": SITEMAPS}, name="sitemap"),
    path("blog/<str:slug>/", views.post_detail, name="post"),
    re_path(r"^blog/(?P<slug>[^/]+)/mark-read/?$", views.mark_read, name="mark-read"),
    path("blog/<str:slug>/<str:filename>", views.post_asset, name="post-asset"),
]
