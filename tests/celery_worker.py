"""A real Celery worker process for integration tests, on the local Redis and the test database."""

from contextlib import contextmanager

import psutil
from django.conf import settings

from readerstudy.celery import app
from tooling.worker_process import running_worker


def purge_queues():
    """Messages left by an earlier test would be taken for this test's jobs."""
    with app.connection_for_write() as conn:
        for queue in ("gpu", "default"):
            conn.default_channel.queue_purge(queue)
        # A killed worker's unacknowledged messages wait in these keys to be restored.
        conn.default_channel.client.delete("unacked", "unacked_index", "unacked_mutex")


@contextmanager
def celery_worker(data_dir, log_path, queues="gpu,default", **extra_env):
    env = {
        "DJANGO_SETTINGS_MODULE": "tests.settings",
        "CELERY_BROKER_URL": settings.CELERY_BROKER_URL,
        "DATA_DIR": str(data_dir),
        "INFERENCE_TORCH_THREADS": "1",
        "INFERENCE_DEVICE": "cpu",
        "INFERENCE_DTYPE": "float32",
        **{key: str(value) for key, value in extra_env.items()},
    }
    with running_worker(log_path, queues=queues, env=env) as worker:
        yield worker


def kill_pool_process(worker):
    """SIGKILL the child that runs tasks, as a CUDA crash or the OOM killer would; the parent lives on."""
    children = psutil.Process(worker.process.pid).children(recursive=True)
    for child in children:
        child.kill()
    return [child.pid for child in children]
