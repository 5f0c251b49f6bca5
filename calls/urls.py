from django.urls import path

from calls.feeds import PodcastFeed
from calls.views import episodes, my_calls, staff

app_name = "calls"

urlpatterns = [
    path("", episodes.episode_list, name="episode-list"),
    path("rss.xml", PodcastFeed(), name="podcast-feed"),
    path("<int:number>/<str:slug>/", episodes.episode_detail, name="episode-detail"),
    path("<int:number>/<str:slug>/audio.mp3", episodes.episode_audio, name="episode-audio"),
    path("record/", my_calls.record, name="record"),
    path("record/<uuid:call_id>/", my_calls.call_detail, name="call-detail"),
    path("record/<uuid:call_id>/audio", my_calls.call_audio, name="call-audio"),
    path("record/<uuid:call_id>/delete", my_calls.call_delete, name="call-delete"),
    path("admin/", staff.pending_calls, name="staff-list"),
    path("admin/<uuid:call_id>/", staff.call_page, name="staff-call"),
    path("admin/<uuid:call_id>/audio", staff.call_audio, name="staff-call-audio"),
    path("admin/<uuid:call_id>/response-audio", staff.response_audio, name="staff-response-audio"),
    path("admin/<uuid:call_id>/response", staff.upload_response, name="staff-response"),
    path("admin/<uuid:call_id>/publish", staff.publish, name="staff-publish"),
    path("admin/<uuid:call_id>/discard", staff.discard, name="staff-discard"),
]
