from django.apps import AppConfig


class ReaderStudyConfig(AppConfig):
    name = "readerstudy"
    verbose_name = "Reader study"

    def ready(self):
        from django.apps import apps
        from django.db.models.signals import post_migrate

        from .analysis.schedule import on_study_data_changed
        from .core.roles import ROLE_APPS, grant_role_permissions
        from .core.signals import study_data_changed

        # After each of the apps whose permissions the roles get: on a new database an app's permissions
        # exist only once its own post_migrate has made them.
        for label in ROLE_APPS:
            post_migrate.connect(grant_role_permissions, sender=apps.get_app_config(label))
        study_data_changed.connect(on_study_data_changed, dispatch_uid="analysis-requested")
