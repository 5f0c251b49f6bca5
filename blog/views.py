from django.conf import settings
from django.core.paginator import Paginator
from django.http import FileResponse, Http404, JsonResponse
from django.shortcuts import render
from django.views.decorators.http import require_POST, require_safe

from blog import compiler, content, leaderboard, listing, recommendations, tickets
from blog.fragments import post_page_key, render_page
from blog.models import READ_WINDOW
from blog.reads import reader_from_request, record_read
from litesite import metrics

HOME_POSTS = 5


def read_state(post, read_slugs: set[str]) -> bool | None:
    """Whether the reader has read `post`; None while they have read nothing at all, so that a
    first visit is not a page of "Unread" labels."""
    return post.slug in read_slugs if read_slugs else None


@require_safe
def home(request):
    read_slugs = reader_from_request(request).read_slugs()
    latest = content.catalog().visible(request)[:HOME_POSTS]
    return render(
        request,
        "blog/home.html",
        {
            "entries": [(post, read_state(post, read_slugs)) for post in latest],
            "standings": leaderboard.overall_standings(),
        },
    )


@require_safe
def post_index(request):
    reader = reader_from_request(request)
    read_slugs = reader.read_slugs()
    catalog = content.catalog()
    posts = catalog.visible(request)
    filters = listing.Filters.from_query(request.GET)
    found = listing.apply(filters, posts=posts, catalog=catalog, read_slugs=read_slugs)
    page = Paginator(found, settings.BLOG_POSTS_PER_PAGE).get_page(request.GET.get("page"))
    shown = list(page.object_list)
    snippets = listing.snippets(filters, shown=shown)
    return render(
        request,
        "blog/post_index.html",
        {
            "page": page,
            "entries": [
                (post, read_state(post, read_slugs), snippets.get(post.slug, "")) for post in shown
            ],
            "categories": listing.categories(posts),
            "category": filters.category,
            "query": filters.query,
            "read_filter": filters.read,
            # Filtering by read state means nothing before the first read (unless asked for).
            "show_read_filter": bool(read_slugs or filters.read),
            "filters": filters.urlencode(),
        },
    )


@require_safe
def post_detail(request, slug):
    catalog = content.catalog()
    post = catalog.get_visible_or_404(request, slug)
    reader = reader_from_request(request)
    read_slugs = reader.read_slugs()
    context = {
        "post": post,
        "has_read": post.slug in read_slugs,
        "standings": leaderboard.post_standings(slug=post.slug),
        "recommended": recommendations.recommend(
            post=post, catalog=catalog, exclude_slugs=read_slugs
        ),
        "required_ms": post.report_after_ms,
    }
    try:
        context["compiled"] = content.compiled(post)
    except compiler.CompileError:
        # Only this post fails (logged in content.compiled); the rest of the site carries on.
        return render(request, "blog/post_error.html", context, status=503)
    key = post_page_key(
        post=post,
        standings=context["standings"],
        has_read=context["has_read"],
        recommended=context["recommended"],
        required_ms=context["required_ms"],
    )
    # Drafts never report reads; everyone else's page carries a ticket to report with.
    ticket = "" if post.draft else tickets.for_request(request, slug=post.slug)
    return render_page(
        request, "blog/post_detail.html", context, key=key, per_request={"read_ticket": ticket}
    )


@require_POST
def mark_read(request, slug):
    post = content.get_post(slug)
    if post is None or post.draft:
        # Drafts never count: they may still change, and readers cannot see them.
        raise Http404("No such post")
    reader = reader_from_request(request)
    if not reader.known:
        metrics.read_report("no-reader")
        return JsonResponse(
            {"error": "No reader: sign in, or allow the client_id cookie.", "reason": "no-reader"},
            status=400,
        )
    try:
        tickets.check(
            request.POST.get("ticket", ""),
            slug=post.slug,
            readers=tickets.readers_of(request, reader=reader),
            required_ms=post.report_after_ms,
        )
    except tickets.TicketRefused as refused:
        metrics.read_report(refused.reason)
        return JsonResponse(refused.as_json(), status=400)
    if record_read(reader=reader, slug=post.slug):
        metrics.read_report("recorded")
        return JsonResponse({"recorded": True}, status=201)
    metrics.read_report("already-read")
    # A replayed ticket ends here too: a ticket lives less than READ_WINDOW (blog/tickets.py).
    return JsonResponse(
        {
            "recorded": False,
            "reason": "already-read",
            "message": (
                f"Already counted: one read per reader per post every {READ_WINDOW.days} days."
            ),
        }
    )


@require_safe
def post_asset(request, slug, filename):
    """An image stored beside a post's index.md. Nothing else in the folder, nor outside it."""
    post = content.catalog().get_visible_or_404(request, slug)
    opened = content.open_asset(post, filename)
    if opened is None:
        raise Http404("No such file")
    file, content_type = opened
    response = FileResponse(file, content_type=content_type)
    response["Cache-Control"] = "public, max-age=3600"
    response["X-Content-Type-Options"] = "nosniff"
    if content_type == "image/svg+xml":
        # An SVG opened on its own must not run script in the site's origin.
        response["Content-Security-Policy"] = "default-src 'none'; style-src 'unsafe-inline'"
    return response


@require_safe
def posts_json(request):
    posts = [post.as_json(site_url=settings.SITE_URL) for post in content.listed_posts()]
    return JsonResponse(
        {"title": "litesite blog", "url": settings.SITE_URL + "/blog/", "posts": posts}
    )
