from django.apps import AppConfig
from django.conf import settings


class BlogConfig(AppConfig):
    name = "blog"

    def ready(self):
        """The blog's part in what accounts does, through Django's hooks (accounts imports no
        blog module):
        - signing in moves the browser's anonymous reads to the account (`user_logged_in`,
          blog.reads.claim_reads_at_sign_in);
        - deleting a user, by the reader or in the admin, moves the team standings (the user
          model's `post_delete`, blog.leaderboard.standings_changed_by_deletion);
        - a reader's post reads are part of their data export and account deletion
          (accounts.personal_data, blog.personal_data).
        It also registers the blog's system checks (blog/checks.py).
        """
        from django.contrib.auth.signals import user_logged_in
        from django.db.models.signals import post_delete

        from accounts import personal_data
        from blog import checks, leaderboard, reads  # noqa: F401 (checks registers itself)
        from blog import personal_data as blog_data

        user_logged_in.connect(
            reads.claim_reads_at_sign_in, dispatch_uid="blog.reads.claim_reads_at_sign_in"
        )
        post_delete.connect(
            leaderboard.standings_changed_by_deletion,
            sender=settings.AUTH_USER_MODEL,
            dispatch_uid="blog.leaderboard.standings_changed_by_deletion",
        )
        personal_data.register("post_reads", export=blog_data.export, delete=blog_data.delete)
