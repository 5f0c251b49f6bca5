"""Session store on accounts.Session, so each session knows its user."""

from django.contrib.sessions.backends.db import SessionStore as DBStore


class SessionStore(DBStore):
    @classmethod
    def get_model_class(cls):
        from accounts.models import Session

        return Session

    def create_model_instance(self, data):
        obj = super().create_model_instance(data)
        user_id = data.get("_auth_user_id")
        obj.user_id = user_id
        return obj
