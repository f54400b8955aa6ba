from django.core.management.base import BaseCommand

from inference import jobs


class Command(BaseCommand):
    help = (
        "Re-enqueue inference jobs stranded by a lost broker or a dead worker (also run by Celery beat). "
        "Safe to run at any time: a job runs only under its lease, so a second message is harmless."
    )

    def handle(self, *args, **options):
        ids = jobs.reconcile()
        self.stdout.write(f"re-enqueued {len(ids)} job(s)" + (f": {', '.join(map(str, ids))}" if ids else ""))
