import random

from django import forms
from django.db import IntegrityError, transaction

from accounts.models import Team, User


class SignInForm(forms.Form):
    email = forms.EmailField(
        label="Email address",
        max_length=254,
        widget=forms.EmailInput(attrs={"autocomplete": "email", "autofocus": True}),
        error_messages={
            "required": "Please enter your email address.",
            "invalid": "That does not look like an email address; please check it.",
        },
    )
    next = forms.CharField(required=False, widget=forms.HiddenInput)
    # Honeypot: hidden from people by CSS and from screen readers by aria-hidden; bots that
    # fill every field give themselves away.
    website = forms.CharField(
        required=False,
        label="Leave this field empty",
        widget=forms.TextInput(attrs={"autocomplete": "off", "tabindex": "-1"}),
    )

    def is_bot(self) -> bool:
        return bool(self.cleaned_data.get("website"))


class OnboardingForm(forms.Form):
    first_name = forms.CharField(
        label="First name",
        max_length=60,
        widget=forms.TextInput(attrs={"autocomplete": "given-name", "autofocus": True}),
        error_messages={
            "required": "Please tell us your first name.",
            "max_length": "Please keep your first name to 60 characters or fewer.",
        },
    )
    team = forms.ChoiceField(
        label="Team",
        choices=Team.choices,
        widget=forms.RadioSelect,
        error_messages={"required": "Please pick a team.", "invalid_choice": "Please pick a team."},
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        # Random order, so the first team listed does not win by default.
        self.fields["team"].choices = random.sample(Team.choices, k=len(Team.choices))

    def clean_first_name(self):
        name = self.cleaned_data["first_name"].strip()
        if not name:
            raise forms.ValidationError("Please tell us your first name.")
        return name

    def save(self, *, email: str) -> User:
        """Create the reader; if the same email finished onboarding in another tab, use that."""
        try:
            with transaction.atomic():
                return User.objects.create(
                    email=email,
                    first_name=self.cleaned_data["first_name"],
                    team=self.cleaned_data["team"],
                )
        except IntegrityError:
            return User.objects.with_email(email).get()


class FirstNameForm(forms.ModelForm):
    class Meta:
        model = User
        fields = ["first_name"]
        widgets = {"first_name": forms.TextInput(attrs={"autocomplete": "given-name"})}
        error_messages = {
            "first_name": {
                "required": "Please tell us your first name.",
                "max_length": "Please keep your first name to 60 characters or fewer.",
            }
        }

    def clean_first_name(self):
        name = self.cleaned_data["first_name"].strip()
        if not name:
            raise forms.ValidationError("Please tell us your first name.")
        return name


class DeleteAccountForm(forms.Form):
    confirm_email = forms.CharField(
        label="Type your email address to confirm",
        widget=forms.TextInput(attrs={"autocomplete": "off"}),
        error_messages={"required": "Type your email address to confirm."},
    )

    def __init__(self, *args, user: User, **kwargs):
        super().__init__(*args, **kwargs)
        self.user = user

    def clean_confirm_email(self):
        typed = self.cleaned_data["confirm_email"].strip()
        if typed.lower() != self.user.email.lower():
            raise forms.ValidationError(
                "That is not your account's email address; nothing was deleted."
            )
        return typed
