from django.contrib import admin
from django.db import transaction
from django.db.models import Count

from accounts.models import Team
from blog.leaderboard import standings_changed
from blog.models import PostRead


class PostSlugFilter(admin.SimpleListFilter):
    title = "post"
    parameter_name = "post_slug"

    def lookups(self, request, model_admin):
        slugs = PostRead.objects.order_by("post_slug").values_list("post_slug", flat=True)
        return [(slug, slug) for slug in slugs.distinct()]

    def queryset(self, request, queryset):
        return queryset.filter(post_slug=self.value()) if self.value() else queryset


class TeamFilter(admin.SimpleListFilter):
    title = "team"
    parameter_name = "team"
    ANONYMOUS = "anonymous"

    def lookups(self, request, model_admin):
        return [*Team.choices, (self.ANONYMOUS, "Anonymous (no team)")]

    def queryset(self, request, queryset):
        if self.value() == self.ANONYMOUS:
            return queryset.filter(user__isnull=True)
        if self.value() in Team.values:
            return queryset.filter(user__team=self.value())
        return queryset


@admin.register(PostRead)
class PostReadAdmin(admin.ModelAdmin):
    list_display = ["post_slug", "reader", "team", "created_at"]
    list_filter = [PostSlugFilter, TeamFilter, ("created_at", admin.DateFieldListFilter)]
    list_select_related = ["user"]
    search_fields = ["post_slug", "client_id", "user__email"]
    date_hierarchy = "created_at"
    readonly_fields = ["id", "created_at"]
    raw_id_fields = ["user"]
    show_full_result_count = False

    # Deleting reads here moves the team standings: every machine's cached standings are checked
    # against the replicated version, so bump it in the deletion's transaction. (A signal per
    # deleted read would also turn an account deletion's one DELETE into a query per read.)
    def delete_model(self, request, obj: PostRead) -> None:
        with transaction.atomic():
            super().delete_model(request, obj)
            standings_changed()

    def delete_queryset(self, request, queryset) -> None:
        with transaction.atomic():
            super().delete_queryset(request, queryset)
            standings_changed()

    @admin.display(description="reader")
    def reader(self, read: PostRead) -> str:
        return read.user.email if read.user else f"anonymous {read.client_id or ''}".strip()

    @admin.display(description="team", ordering="user__team")
    def team(self, read: PostRead) -> str:
        return read.user.get_team_display() if read.user else "—"

    def changelist_view(self, request, extra_context=None):
        response = super().changelist_view(request, extra_context=extra_context)
        changelist = getattr(response, "context_data", {}).get("cl")
        if changelist is not None:
            # Totals of what the filters selected: all reads, by team, and the busiest posts.
            selected = changelist.queryset.order_by()
            by_team = dict(
                selected.values_list("user__team")
                .annotate(reads=Count("pk"))
                .values_list("user__team", "reads")
            )
            response.context_data["totals"] = {
                "reads": sum(by_team.values()),
                "teams": [(label, by_team.get(value, 0)) for value, label in Team.choices],
                "anonymous": by_team.get(None, 0),
                "top_posts": list(
                    selected.values("post_slug").annotate(reads=Count("pk")).order_by("-reads")[:10]
                ),
            }
        return response
