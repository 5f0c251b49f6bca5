"""Signed-in readers for the cluster tests, made directly in a node's database.

The tests exercise replication, not the sign-in UI, so a reader and their session are created
on the primary the way `fly ssh console` would, with accounts' own SessionStore.
"""

import sqlite3

from devcluster.harness import Cluster, Node

_SIGN_IN = """
from datetime import timedelta
from django.utils import timezone
from accounts.models import Session, User
from accounts.sessions import SessionStore
user = User.objects.create(email={email!r}, first_name={name!r}, team="RED")
session = SessionStore()
session["_auth_user_id"] = user.pk
session["_auth_user_backend"] = "accounts.backends.MagicLinkBackend"
session.create()
Session.objects.filter(session_key=session.session_key).update(
    expire_date=timezone.now() + timedelta(days={days})
)
print(session.session_key)
"""


def sign_in(cluster: Cluster, *, email: str, name: str = "Ada", days: int = 300) -> str:
    """Create a reader and a session expiring in `days` on the primary; the session key."""
    code = _SIGN_IN.format(email=email, name=name, days=days)
    return cluster.shell(cluster.primary, code).strip().splitlines()[-1]


def query(node: Node, sql: str, *params):
    """Read a node's database file directly, read-only, bypassing the application."""
    connection = sqlite3.connect(f"file:{node.mount.db_path}?mode=ro", uri=True)
    try:
        return connection.execute(sql, params).fetchall()
    finally:
        connection.close()


def first_name(node: Node, email: str) -> str | None:
    rows = query(node, "SELECT first_name FROM accounts_user WHERE email = ?", email)
    return rows[0][0] if rows else None


def session_expiry(node: Node, session_key: str) -> str:
    return query(
        node, "SELECT expire_date FROM accounts_session WHERE session_key = ?", session_key
    )[0][0]
