"""Real server processes for tests: gunicorn on a free port, waited for until it answers."""

import contextlib
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def free_port():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def wait_until_answers(url, process, attempts=100):
    """Until `url` gives any HTTP answer; fails at once if `process` has exited."""
    for _ in range(attempts):
        assert process.poll() is None, f"the server exited with {process.returncode}"
        try:
            urllib.request.urlopen(url, timeout=1)
            return
        except urllib.error.HTTPError:
            return
        except OSError:
            time.sleep(0.2)
    raise AssertionError(f"{url} never answered")


@contextlib.contextmanager
def gunicorn(env, workers=1, ready_path="/healthz"):
    """The site under gunicorn with `env` (its whole environment, PATH included); yields its base URL."""
    port = free_port()
    server = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "gunicorn",
            "readerstudy.wsgi",
            "--bind",
            f"127.0.0.1:{port}",
            "--workers",
            str(workers),
        ],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        wait_until_answers(url + ready_path, server)
        yield url
    finally:
        server.terminate()
        server.wait(timeout=20)
