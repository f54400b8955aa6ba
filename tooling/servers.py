"""Real server processes on free ports, waited for until they answer: gunicorn, and nginx in front of it as in
production (deploy/nginx.conf). The tests and the benchmarks start them the same way."""

import contextlib
import grp
import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
NGINX = Path("/usr/sbin/nginx")

CONF = """
daemon off;
worker_processes 1;
pid {root}/nginx.pid;
{user}
events {{ worker_connections 1024; }}
http {{
    access_log {root}/access.log;
    client_body_temp_path {root}/client_body;
    proxy_temp_path {root}/proxy;
    fastcgi_temp_path {root}/fastcgi;
    uwsgi_temp_path {root}/uwsgi;
    scgi_temp_path {root}/scgi;
    server {{
        listen 127.0.0.1:{port};
        location /protected-dicom/ {{
            internal;
            alias {store}/;
            default_type application/dicom;
        }}
{static}
        location / {{
            proxy_pass {upstream};
            proxy_set_header Host $host;
            proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
        }}
    }}
}}
"""

# Files nginx sends as a plain static site, with no Django in the way: the benchmarks' anchor.
STATIC_LOCATION = """
        location /static-files/ {{
            alias {folder}/;
            default_type application/dicom;
        }}
"""


def free_port():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def wait_until_answers(url, process, attempts=100):
    """Until `url` gives any HTTP answer; fails at once if `process` has exited."""
    for _ in range(attempts):
        if process.poll() is not None:
            raise RuntimeError(f"the server exited with {process.returncode}")
        try:
            urllib.request.urlopen(url, timeout=1)
            return
        except urllib.error.HTTPError:
            return
        except OSError:
            time.sleep(0.2)
    raise RuntimeError(f"{url} never answered")


@contextlib.contextmanager
def gunicorn(env, workers=1, ready_path="/healthz", site=ROOT):
    """The site under gunicorn with `env` (its whole environment, PATH included), run from the checkout `site`;
    yields its base URL."""
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
        cwd=site,
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


@dataclass
class Nginx:
    url: str
    process: subprocess.Popen
    error_log: Path


@contextlib.contextmanager
def nginx(root, upstream, store, static_folder=None):
    """nginx in front of `upstream`, sending `store`'s files where Django's X-Accel-Redirect points, and
    `static_folder`'s (if given) at /static-files/; its files in `root` (created). Yields an Nginx.

    Run as root, nginx's workers run as www-data with this process's group, so a file it sends must be readable
    through the group (README: Production): `root` and the store's parents must be passable by that group."""
    if not NGINX.is_file():
        raise RuntimeError("nginx is missing: run `make nginx` (make test does)")
    root = Path(root)
    root.mkdir()
    port = free_port()
    # Only a master running as root switches its workers' user (otherwise nginx ignores the directive).
    user = f"user www-data {grp.getgrgid(os.getegid()).gr_name};" if os.geteuid() == 0 else ""
    static = STATIC_LOCATION.format(folder=static_folder) if static_folder else ""
    conf = root / "nginx.conf"
    conf.write_text(CONF.format(root=root, user=user, port=port, store=store, static=static, upstream=upstream))
    error_log = root / "error.log"
    process = subprocess.Popen(
        [NGINX, "-p", root, "-c", conf, "-e", error_log], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    url = f"http://127.0.0.1:{port}"
    try:
        wait_until_answers(f"{url}/healthz", process)
        yield Nginx(url, process, error_log)
    finally:
        process.terminate()
        process.wait(timeout=20)
