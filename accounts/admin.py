from django.contrib import admin

from accounts.models import MagicLink, Session, User


class SessionInline(admin.TabularInline):
    """A reader's sessions; deleting one signs that browser out."""

    model = Session
    fields = ("created_at", "expire_date")
    readonly_fields = fields
    extra = 0
    ordering = ("-created_at",)
    verbose_name_plural = "sessions (delete one to sign that browser out)"

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(User)
class UserAdmin(admin.ModelAdmin):
    list_display = ("email", "first_name", "team", "role", "created_at")
    list_filter = ("role", "team")
    search_fields = ("email", "first_name")
    readonly_fields = ("id", "created_at", "updated_at")
    fields = (
        "id",
        "email",
        "first_name",
        "team",
        "role",
        "discord_id",
        "convert_kit_id",
        "created_at",
        "updated_at",
    )
    date_hierarchy = "created_at"
    inlines = [SessionInline]


@admin.register(MagicLink)
class MagicLinkAdmin(admin.ModelAdmin):
    """Read-only: useful to answer "I never got my link" without exposing the tokens."""

    list_display = ("email", "client_address", "created_at", "used_at")
    search_fields = ("email", "client_address")
    fields = ("email", "client_address", "client_network", "next_url", "created_at", "used_at")
    readonly_fields = fields

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False
