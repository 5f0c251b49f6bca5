"""Calls and episodes in the Django admin: pending calls with players, publishing as an action."""

from django.contrib import admin, messages
from django.urls import reverse
from django.utils.html import format_html

from calls import audio, limits
from calls.models import Call, Episode
from calls.publishing import CannotPublish, publish_call


def player(url: str):
    return format_html('<audio controls preload="none" src="{}"></audio>', url)


@admin.register(Call)
class CallAdmin(admin.ModelAdmin):
    """Every stored call is pending: a published call becomes an episode and is deleted."""

    list_display = ["title", "user", "created_at", "duration", "has_response"]
    list_select_related = ["user"]
    search_fields = ["title", "description", "keywords", "user__email", "user__first_name"]
    date_hierarchy = "created_at"
    ordering = ["created_at"]
    fields = [
        "title",
        "description",
        "keywords",
        "user",
        "created_at",
        "recording",
        "audio_mime_type",
        "duration_seconds",
        "response_recording",
        "staff_page",
    ]
    # Staff may correct the words; the recording and its facts are the caller's.
    readonly_fields = [
        name
        for name in fields
        # Always a name here; Django's types also allow a group of names.
        if isinstance(name, str) and name not in ("title", "description", "keywords")
    ]
    actions = ["publish"]

    def get_queryset(self, request):
        return super().get_queryset(request).without_audio()

    def has_add_permission(self, request):
        return False  # calls are recorded by readers on the site, not typed in here

    @admin.display(description="Duration", ordering="duration_seconds")
    def duration(self, call):
        return f"{call.duration_seconds:.0f} s"

    @admin.display(description="Response", boolean=True)
    def has_response(self, call):
        return call.has_response

    @admin.display(description="Recording")
    def recording(self, call):
        return player(reverse("calls:staff-call-audio", args=[call.pk]))

    @admin.display(description="Response recording")
    def response_recording(self, call):
        if not call.has_response:
            return "None yet: record or upload one on the staff page."
        return player(reverse("calls:staff-response-audio", args=[call.pk]))

    @admin.display(description="Respond and publish")
    def staff_page(self, call):
        url = call.get_staff_url()
        return format_html('<a href="{}">Open the staff page for this call</a>', url)

    @admin.action(description="Publish selected calls (those with a response)")
    def publish(self, request, queryset):
        for call in queryset.select_related("user"):
            try:
                episode = publish_call(call=Call.objects.select_related("user").get(pk=call.pk))
            except (CannotPublish, limits.StorageLow, audio.AudioProcessingError) as error:
                self.message_user(
                    request, f"“{call.title}” was not published: {error}", messages.ERROR
                )
            else:
                self.message_user(request, f"Published episode {episode.number}: {episode.title}.")


@admin.register(Episode)
class EpisodeAdmin(admin.ModelAdmin):
    list_display = ["number", "title", "caller_name", "published_at", "duration", "size_bytes"]
    search_fields = ["title", "description", "keywords", "caller_name"]
    date_hierarchy = "published_at"
    fields = [
        "number",
        "title",
        "description",
        "keywords",
        "caller_name",
        "published_at",
        "recording",
        "audio_mime_type",
        "duration_seconds",
        "size_bytes",
    ]
    readonly_fields = [
        "number",
        "published_at",
        "recording",
        "audio_mime_type",
        "duration_seconds",
        "size_bytes",
    ]

    def get_queryset(self, request):
        return super().get_queryset(request).without_audio()

    def has_add_permission(self, request):
        return False  # episodes are made by publishing a call

    @admin.display(description="Duration", ordering="duration_seconds")
    def duration(self, episode):
        return f"{episode.duration_seconds:.0f} s"

    @admin.display(description="Audio")
    def recording(self, episode):
        return player(episode.get_audio_url())
