"""The one-time cut-over from the old Postgres site: the import and the old sign-in cookies.

A site that has finished its cut-over removes "legacy" from INSTALLED_APPS and deletes this
folder; nothing else imports it (see the README, "Migrating from Postgres").
"""
