"""Recording and moving post reads."""

from blog.models import PostRead


def claim_anonymous_reads(*, client_id: str, user) -> int:
    """Move a visitor's anonymous reads to the user who just signed in; returns how many."""
    return PostRead.objects.filter(client_id=client_id, user__isnull=True).update(user=user)
