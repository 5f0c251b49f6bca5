from django.urls import path

from calls import views

app_name = "calls"

urlpatterns = [
    path("", views.episode_list, name="episode-list"),
]
