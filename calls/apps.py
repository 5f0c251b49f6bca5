from django.apps import AppConfig


class CallsConfig(AppConfig):
    name = "calls"

    def ready(self):
        """A reader's recorded calls, and the record of their uploads the daily budget counts,
        are part of their data export and account deletion (accounts.personal_data,
        calls.personal_data); accounts imports no calls module."""
        from accounts import personal_data
        from calls import personal_data as calls_data

        personal_data.register("calls", export=calls_data.export, delete=calls_data.delete)
        personal_data.register(
            "call_uploads", export=calls_data.export_uploads, delete=calls_data.delete_uploads
        )
