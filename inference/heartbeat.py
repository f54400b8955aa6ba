"""Each worker process's row in WorkerHeartbeat: when it started, which queues it consumes, what it loaded, how
many jobs it did, and when it last finished a task."""

import os
import socket
import uuid

from django.db.models import F
from django.utils import timezone

from . import engine_registry
from .models import WorkerHeartbeat

_process_key = None


def process_started(queues):
    global _process_key
    _process_key = uuid.uuid4()
    WorkerHeartbeat.objects.create(
        process_key=_process_key,
        hostname=socket.gethostname(),
        pid=os.getpid(),
        queues=",".join(sorted(queues)),
        last_seen=timezone.now(),
    )


def model_loaded():
    _touch()


def job_done():
    _touch(jobs_done=F("jobs_done") + 1)


def task_finished():
    _touch()


def _touch(**changes):
    if _process_key is None:
        # Jobs run in-process (seed_demo, benchmarks) have no worker row.
        return
    WorkerHeartbeat.objects.filter(process_key=_process_key).update(
        last_seen=timezone.now(),
        model_loads=engine_registry.load_count,
        engine_key=" · ".join(engine_registry.loaded_keys()),
        **changes,
    )
