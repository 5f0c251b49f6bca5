"""Create the first admin, or promote an existing reader to admin.

There are no passwords, so Django's createsuperuser does not fit: an admin is simply a user
whose role is ADMIN, who then signs in with a magic link like everyone else. The command
never prompts, so it also works in deploy scripts and `fly ssh console -C`.
"""

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError
from django.core.validators import validate_email

from accounts.models import Role, Team, User


class Command(BaseCommand):
    help = "Create an ADMIN user with this email, or promote the existing user to ADMIN."

    def add_arguments(self, parser):
        parser.add_argument("email", help="The admin's email address (they sign in by magic link).")
        parser.add_argument(
            "--first-name",
            help="First name for a new user (default: taken from the email address). "
            "Also renames an existing user when given.",
        )
        parser.add_argument(
            "--team",
            type=str.upper,
            choices=Team.values,
            help="Team for a new user (default: RED). Also moves an existing user when given.",
        )
        parser.add_argument(
            "--dry-run", action="store_true", help="Say what would change, change nothing."
        )

    def handle(self, *args, email, first_name, team, dry_run, **options):
        email = email.strip()
        try:
            validate_email(email)
        except ValidationError:
            raise CommandError(f"{email!r} is not a valid email address.") from None
        if first_name is not None:
            first_name = first_name.strip()
            if not first_name or len(first_name) > 60:
                raise CommandError("--first-name must be 1 to 60 characters.")

        user = User.objects.with_email(email).first()
        prefix = "[dry run] " if dry_run else ""
        if user is None:
            user = User(
                email=email,
                first_name=first_name or default_first_name(email),
                team=team or Team.RED,
                role=Role.ADMIN,
            )
            if not dry_run:
                user.save()
            self.stdout.write(
                self.style.SUCCESS(
                    f"{prefix}Created admin {user.email} ({user.first_name}, team {user.team})."
                )
            )
            return

        changes = {"role": Role.ADMIN}
        if first_name:
            changes["first_name"] = first_name
        if team:
            changes["team"] = team
        changed = [field for field, value in changes.items() if getattr(user, field) != value]
        if not changed:
            self.stdout.write(f"{user.email} is already an admin; nothing to change.")
            return
        for field in changed:
            setattr(user, field, changes[field])
        if not dry_run:
            user.save(update_fields=[*changed, "updated_at"])
        self.stdout.write(
            self.style.SUCCESS(f"{prefix}Updated {user.email}: {', '.join(changed)}.")
        )


def default_first_name(email: str) -> str:
    """ "ada.lovelace@example.com" -> "Ada"."""
    local = email.split("@", 1)[0]
    word = local.replace("_", ".").replace("-", ".").replace("+", ".").split(".")[0]
    return (word or local)[:60].capitalize() or "Admin"
