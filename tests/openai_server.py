"""A small local server that speaks the OpenAI chat-completions protocol as vLLM does, for engine tests."""

import json
import threading
import time
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

TRACE = ("<think>\nImage quality: adequate PA projection.\n\nHeart: the cardiac silhouette is enlarged.\n\n"
         "In summary, cardiomegaly.\n</think>\n<answer> Cardiomegaly </answer>")


class FakeModelServer:
    """Serves `model`; records every request; can be told to fail, delay or answer with given texts."""

    def __init__(self, model="nvidia/NV-Reason-CXR-3B"):
        self.model = model
        self.requests = []
        self.failures = []  # HTTP statuses for the next requests, in order
        self.delay_s = 0.0
        self.replies = []  # texts for the next completions, in order; then TRACE
        self.finish_reason = "stop"

    def handle(self, method, path, body):
        self.requests.append({"method": method, "path": path, "body": body})
        if self.failures:
            status = self.failures.pop(0)
            return status, {"error": {"message": f"scripted failure {status}"}}
        time.sleep(self.delay_s)
        if path == "/v1/models":
            return 200, {"object": "list", "data": [{"id": self.model, "object": "model"}]}
        if path == "/v1/chat/completions":
            text = self.replies.pop(0) if self.replies else TRACE
            return 200, {
                "id": "cmpl-1", "object": "chat.completion", "model": body["model"],
                "choices": [{"index": 0, "message": {"role": "assistant", "content": text},
                             "finish_reason": self.finish_reason}],
                "usage": {"prompt_tokens": 321, "completion_tokens": len(text.split()),
                          "total_tokens": 321 + len(text.split())},
            }
        return 404, {"error": {"message": "not found"}}

    @property
    def completions(self):
        return [r["body"] for r in self.requests if r["path"] == "/v1/chat/completions"]


@contextmanager
def fake_model_server(**kwargs):
    fake = FakeModelServer(**kwargs)

    class Handler(BaseHTTPRequestHandler):
        def _reply(self, method):
            length = int(self.headers.get("Content-Length") or 0)
            body = json.loads(self.rfile.read(length)) if length else None
            status, payload = fake.handle(method, self.path, body)
            data = json.dumps(payload).encode()
            try:
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)
            except (BrokenPipeError, ConnectionResetError):
                pass  # the client gave up (a timeout test)

        def do_GET(self):
            self._reply("GET")

        def do_POST(self):
            self._reply("POST")

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    fake.base_url = f"http://127.0.0.1:{server.server_address[1]}"
    try:
        yield fake
    finally:
        server.shutdown()
        server.server_close()
