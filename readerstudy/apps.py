from django.apps import AppConfig


class ReaderStudyConfig(AppConfig):
    name = "readerstudy"
    verbose_name = "Reader study"

    def ready(self):
        from django.db.models.signals import post_migrate

        from .roles import grant_role_permissions

        post_migrate.connect(grant_role_permissions, sender=self)
