from django.conf import settings
from django.core.paginator import Paginator
from django.http import FileResponse, Http404, JsonResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET, require_POST

from blog import compiler, content, leaderboard, recommendations, search
from blog.fragments import render_page
from blog.reads import reader_from_request, record_read
from blog.templatetags.blog_fragments import post_page_key

HOME_POSTS = 5
READ_FILTERS = {"read", "unread"}


@require_GET
def home(request):
    read_slugs = reader_from_request(request).read_slugs()
    latest = content.catalog().visible(request)[:HOME_POSTS]
    return render(
        request,
        "blog/home.html",
        {
            "entries": [(post, post.slug in read_slugs) for post in latest],
            "standings": leaderboard.overall_standings(),
        },
    )


@require_GET
def post_index(request):
    reader = reader_from_request(request)
    catalog = content.catalog()
    posts = catalog.visible(request)
    categories = sorted({category for post in posts for category in post.categories}, key=str.lower)

    category = request.GET.get("category", "").strip()
    if category:
        posts = [post for post in posts if category.lower() in map(str.lower, post.categories)]

    query = request.GET.get("q", "").strip()[:200]
    snippets = {}
    if query:
        results = search.search(query, visible=posts, catalog=catalog)
        posts = [post for post, _ in results]
        snippets = {post.slug: snippet for post, snippet in results}

    read_slugs = reader.read_slugs()
    read_filter = request.GET.get("read", "")
    if read_filter not in READ_FILTERS:
        read_filter = ""
    if read_filter == "read":
        posts = [post for post in posts if post.slug in read_slugs]
    elif read_filter == "unread":
        posts = [post for post in posts if post.slug not in read_slugs]

    page = Paginator(posts, settings.BLOG_POSTS_PER_PAGE).get_page(request.GET.get("page"))
    filters = request.GET.copy()
    filters.pop("page", None)
    return render(
        request,
        "blog/post_index.html",
        {
            "page": page,
            "entries": [
                (post, post.slug in read_slugs, snippets.get(post.slug, ""))
                for post in page.object_list
            ],
            "categories": categories,
            "category": category,
            "query": query,
            "read_filter": read_filter,
            "reader_known": reader.known,
            "filters": filters.urlencode(),
        },
    )


@require_GET
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
            post=post, candidates=catalog.listed, exclude_slugs=read_slugs
        ),
        # The script reports a read after this share of the estimated time with the tab visible.
        "required_ms": round(
            post.words / settings.BLOG_WORDS_PER_MINUTE * 60_000 * settings.BLOG_READ_THRESHOLD
        ),
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
    return render_page(request, "blog/post_detail.html", context, key=key)


@require_POST
def mark_read(request, slug):
    post = content.get_post(slug)
    if post is None or post.draft:
        # Drafts never count: they may still change, and readers cannot see them.
        raise Http404("No such post")
    reader = reader_from_request(request)
    if not reader.known:
        return JsonResponse(
            {"error": "No reader: sign in, or allow the client_id cookie."}, status=400
        )
    recorded = record_read(reader=reader, slug=post.slug)
    return JsonResponse({"recorded": recorded}, status=201 if recorded else 200)


@require_GET
def post_asset(request, slug, filename):
    """An image stored beside a post's index.md. Nothing else in the folder, nor outside it."""
    post = content.catalog().get_visible_or_404(request, slug)
    path = content.asset_path(post, filename)
    if path is None:
        raise Http404("No such file")
    response = FileResponse(path.open("rb"), content_type=content.ASSET_TYPES[path.suffix.lower()])
    response["Cache-Control"] = "public, max-age=3600"
    response["X-Content-Type-Options"] = "nosniff"
    if path.suffix.lower() == ".svg":
        # An SVG opened on its own must not run script in the site's origin.
        response["Content-Security-Policy"] = "default-src 'none'; style-src 'unsafe-inline'"
    return response


@require_GET
def posts_json(request):
    posts = [post.as_json(site_url=settings.SITE_URL) for post in content.listed_posts()]
    return JsonResponse(
        {"title": "litesite blog", "url": settings.SITE_URL + "/blog/", "posts": posts}
    )
