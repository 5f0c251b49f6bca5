"""The blog's section of a reader's personal data: their post reads (see accounts/personal_data.py;
registered in blog/apps.py)."""

from blog.models import PostRead


def export(*, user) -> list[dict]:
    reads = PostRead.objects.by_reader(user=user).order_by("-created_at")
    return [
        {
            "id": read.id,
            "post_slug": read.post_slug,
            "read_at": read.created_at.isoformat() if read.created_at else None,
        }
        for read in reads
    ]


def delete(*, user) -> None:
    PostRead.objects.by_reader(user=user).delete()
