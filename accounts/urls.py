from django.urls import path

from accounts import views

app_name = "accounts"

urlpatterns = [
    path("login", views.sign_in, name="login"),
    path("login/sent", views.link_sent, name="link-sent"),
    path("magic", views.magic, name="magic"),
    path("signup", views.signup, name="signup"),
    path("logout", views.sign_out, name="logout"),
    path("me", views.profile, name="profile"),
    path(
        "me/sessions/sign-out-others", views.sign_out_other_sessions, name="sign-out-other-sessions"
    ),
    path("me/download.json", views.download_data, name="download-data"),
    path("me/delete", views.delete_account, name="delete-account"),
]
