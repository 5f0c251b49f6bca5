import json
import time

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import logout
from django.contrib.auth.decorators import login_required
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.views.decorators.http import require_http_methods, require_POST, require_safe

from accounts import client_ip, magic_links
from accounts.forms import DeleteAccountForm, FirstNameForm, OnboardingForm, SignInForm
from accounts.models import Session, User
from accounts.personal_data import delete_personal_data, export_personal_data

# Session key holding {"email", "next", "until"} between a used link and the onboarding form.
ONBOARDING_KEY = "accounts.onboarding"
# A used link for a new address must not let whoever finds the browser later create the
# account: onboarding has to be finished within this many seconds.
ONBOARDING_SECONDS = 60 * 60
REFUSED_STATUS = {"expired": 410, "used": 410, "tampered": 400, "foreign-browser": 403}


@require_http_methods(["GET", "HEAD", "POST"])
def sign_in(request):
    next_url = magic_links.safe_next_url(
        request, request.POST.get("next") or request.GET.get("next")
    )
    if request.method != "POST" and request.user.is_authenticated:
        return redirect(next_url or "accounts:profile")
    form = SignInForm(request.POST or None, initial={"next": next_url})
    if request.method == "POST" and form.is_valid():
        key = magic_links.browser_key(request)
        email = form.cleaned_data["email"]
        if not form.is_bot():
            try:
                token = magic_links.request_link(
                    email=email,
                    client_address=client_ip.client_address(request),
                    browser_key=key,
                    next_url=next_url,
                )
            except magic_links.RateLimited as limited:
                form.add_error(None, str(limited))
                response = render(request, "accounts/sign_in.html", {"form": form}, status=429)
                response["Retry-After"] = str(limited.retry_after_seconds)
                return response
            try:
                magic_links.send_link_email(email=email, url=magic_links.link_url(token=token))
            except magic_links.EmailNotSent:
                magic_links.withdraw_link(token=token)
                form.add_error(
                    None, "We could not send the email just now. Please try again in a minute."
                )
                return render(request, "accounts/sign_in.html", {"form": form}, status=503)
        # A bot that filled the honeypot sees exactly what a person would, and nothing is sent.
        messages.success(request, f"We emailed a sign-in link to {email}.")
        response = redirect("accounts:link-sent")
        magic_links.set_browser_cookie(response, key)
        return response
    status = 400 if request.method == "POST" else 200
    return render(request, "accounts/sign_in.html", {"form": form}, status=status)


@require_safe
def link_sent(request):
    return render(
        request,
        "accounts/link_sent.html",
        {"minutes": settings.MAGIC_LINK_MAX_AGE // 60},
    )


@require_safe
def magic(request):
    try:
        link = magic_links.consume_link(
            token=request.GET.get("token", ""),
            browser_key=request.COOKIES.get(magic_links.BROWSER_COOKIE, ""),
        )
    except magic_links.LinkRefused as refused:
        form = SignInForm(initial={"email": refused.email})
        return render(
            request,
            "accounts/link_refused.html",
            {"reason": refused.reason, "form": form},
            status=REFUSED_STATUS[refused.reason],
        )
    user = User.objects.with_email(link.email).first()
    if user is None:
        request.session[ONBOARDING_KEY] = {
            "email": link.email,
            "next": link.next_url,
            "until": time.time() + ONBOARDING_SECONDS,
        }
        return redirect("accounts:signup")
    magic_links.sign_in(request=request, user=user)
    messages.success(request, f"Welcome back, {user.first_name}. You are signed in.")
    return redirect(magic_links.safe_next_url(request, link.next_url) or "accounts:profile")


@require_http_methods(["GET", "HEAD", "POST"])
def signup(request):
    pending = request.session.get(ONBOARDING_KEY)
    if pending and pending["until"] < time.time():
        del request.session[ONBOARDING_KEY]
        messages.info(
            request, "Creating your account took over an hour; please ask for a new link."
        )
        return redirect("accounts:login")
    if not pending:
        messages.info(request, "To create an account, ask for a sign-in link first.")
        return redirect("accounts:login")
    form = OnboardingForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        user = form.save(email=pending["email"])
        del request.session[ONBOARDING_KEY]
        magic_links.sign_in(request=request, user=user)
        messages.success(request, f"Welcome, {user.first_name}! Your account is ready.")
        return redirect(magic_links.safe_next_url(request, pending["next"]) or "accounts:profile")
    status = 400 if request.method == "POST" else 200
    return render(
        request, "accounts/signup.html", {"form": form, "email": pending["email"]}, status=status
    )


@require_http_methods(["GET", "HEAD", "POST"])
def sign_out(request):
    """GET asks for confirmation (an old bookmark must not sign anyone out); POST signs out."""
    if request.method == "POST":
        logout(request)
        messages.success(request, "You are signed out.")
        return redirect("/")
    if not request.user.is_authenticated:
        return redirect("/")
    return render(request, "accounts/sign_out.html")


def _profile_context(request, **overrides):
    user = request.user
    context = {
        "name_form": FirstNameForm(instance=user),
        "other_sessions": Session.objects.for_user(user)
        .live()
        .other_than(request.session.session_key)
        .count(),
    }
    return context | overrides


@login_required
@require_http_methods(["GET", "HEAD", "POST"])
def profile(request):
    if request.method == "POST":
        form = FirstNameForm(request.POST, instance=request.user)
        if form.is_valid():
            form.save()
            messages.success(request, "Your name is saved.")
            return redirect("accounts:profile")
        return render(
            request, "accounts/profile.html", _profile_context(request, name_form=form), status=400
        )
    return render(request, "accounts/profile.html", _profile_context(request))


@login_required
@require_POST
def sign_out_other_sessions(request):
    ended, _ = (
        Session.objects.for_user(request.user).other_than(request.session.session_key).delete()
    )
    noun = "session" if ended == 1 else "sessions"
    messages.success(request, f"Signed out of {ended} other {noun}.")
    return redirect("accounts:profile")


@login_required
@require_safe
def download_data(request):
    data = export_personal_data(user=request.user, current_session_key=request.session.session_key)
    response = HttpResponse(
        json.dumps(data, indent=2, ensure_ascii=False), content_type="application/json"
    )
    filename = f"litesite-data-{timezone.now():%Y-%m-%d}.json"
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response


@login_required
@require_http_methods(["GET", "HEAD", "POST"])
def delete_account(request):
    form = DeleteAccountForm(request.POST or None, user=request.user)
    if request.method == "POST" and form.is_valid():
        delete_personal_data(user=request.user)
        logout(request)
        messages.success(request, "Your account and everything that belonged to it are deleted.")
        return redirect("/")
    status = 400 if request.method == "POST" else 200
    return render(request, "accounts/delete_account.html", {"form": form}, status=status)
