"""Database sessions that know their user, with a rolling 365-day lifetime.

Django's database store moves a session's expiry only when the session is modified, so a
reader who only reads would be signed out a year after signing in. Here a signed-in request
that finds fewer than SESSION_RENEW_WHEN_REMAINING seconds left moves the expiry to a full
SESSION_COOKIE_AGE from now. That costs one write per reader about every six months instead
of one per request, which matters because every write has to happen on the LiteFS primary.

The two writes a *safe* request can cause — extending a session, deleting an expired one —
live in extend_session() and delete_expired_session(), which first call
litefs.ensure_primary(): on a read replica that raises ReplayToPrimary and the request is
replayed on the primary.
"""

from datetime import datetime, timedelta

from django.conf import settings
from django.contrib.auth import SESSION_KEY
from django.contrib.sessions.backends.base import CreateError, UpdateError
from django.contrib.sessions.backends.db import SessionStore as DBStore
from django.db import DatabaseError, IntegrityError, router, transaction
from django.utils import timezone

from litesite import litefs


class SessionStore(DBStore):
    # What the database said when the session was loaded (None: not loaded, or no row).
    stored_expire_date: datetime | None = None
    # True once extend_session() moved the expiry during this request.
    extended: bool = False

    @classmethod
    def get_model_class(cls):
        from accounts.models import Session

        return Session

    def _get_session_from_db(self):
        # Django filters expired rows out and leaves them to `clearsessions`; we delete an
        # expired session the moment its cookie comes back, so stale rows do not pile up.
        row = self.model.objects.filter(session_key=self.session_key).first()
        if row is not None and row.expire_date <= timezone.now():
            delete_expired_session(session_key=row.session_key)
            row = None
        if row is None:
            self._session_key = None
            return None
        self.stored_expire_date = row.expire_date
        return row

    def create_model_instance(self, data):
        obj = super().create_model_instance(data)
        obj.user_id = data.get(SESSION_KEY)
        return obj

    def save(self, must_create=False):
        """Django's save, except that an update leaves created_at alone.

        A fresh model instance counts as "adding", so auto_now_add would stamp created_at
        again on every update; naming the updated fields prevents that.
        """
        if self.session_key is None:
            return self.create()
        data = self._get_session(no_load=must_create)
        obj = self.create_model_instance(data)
        using = router.db_for_write(self.model, instance=obj)
        try:
            with transaction.atomic(using=using):
                if must_create:
                    obj.save(force_insert=True, using=using)
                else:
                    obj.save(update_fields=["session_data", "expire_date", "user"], using=using)
        except IntegrityError:
            if must_create:
                raise CreateError from None
            raise
        except DatabaseError:
            if not must_create:
                raise UpdateError from None
            raise
        self.stored_expire_date = obj.expire_date

    def is_signed_in(self) -> bool:
        return self.get(SESSION_KEY) is not None

    def needs_extension(self) -> bool:
        """True when a signed-in session has fewer than SESSION_RENEW_WHEN_REMAINING left."""
        # is_signed_in() loads the session, which is what sets stored_expire_date.
        if not self.is_signed_in() or self.stored_expire_date is None:
            return False
        remaining = self.stored_expire_date - timezone.now()
        return remaining < timedelta(seconds=settings.SESSION_RENEW_WHEN_REMAINING)


def extend_session(*, session: SessionStore) -> None:
    """Move a session's expiry to SESSION_COOKIE_AGE from now (a write: primary only)."""
    litefs.ensure_primary()
    new_expiry = timezone.now() + timedelta(seconds=settings.SESSION_COOKIE_AGE)
    session.model.objects.filter(session_key=session.session_key).update(expire_date=new_expiry)
    session.stored_expire_date = new_expiry
    session.extended = True


def delete_expired_session(*, session_key: str) -> None:
    """Delete a session whose expiry has passed (a write: primary only)."""
    litefs.ensure_primary()
    from accounts.models import Session

    Session.objects.filter(session_key=session_key, expire_date__lte=timezone.now()).delete()
