"""A small local server that speaks the OpenAI chat-completions protocol as vLLM does, for engine tests.

    with fake_model_server() as server:
        engine = OpenAIEngine(server.model, base_url=server.base_url)
        server.failures = [500, 500]  # HTTP statuses for the next requests, in order
        ...
        server.completions  # the request bodies it received

It serves GET /v1/models and POST /v1/chat/completions on 127.0.0.1 (a free port), in a thread.
"""

import json
import threading
import time
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

# A full answer in the model's format: every review region in order, then the labels.
TRACE = "\n".join(
    [
        "<think>",
        "Image quality is adequate: a frontal projection with good inspiration and no significant rotation.\n",
        "No lines, tubes or other support devices are seen.\n",
        "The trachea is midline and the central airways are patent.\n",
        "The right lung is clear, with normal vascular markings and no focal opacity.\n",
        "The left lung is clear, with normal vascular markings and no focal opacity.\n",
        "In the pleural spaces there is blunting of the right costophrenic angle with a meniscus, consistent with a "
        "small right pleural effusion.\n",
        "The mediastinum is normal in width and contour.\n",
        "The hila are normal in size and position.\n",
        "The cardiac silhouette is enlarged, cardiothoracic ratio approximately 0.6.\n",
        "The upper abdomen is unremarkable, with no free air under the diaphragm.\n",
        "The bones show no acute osseous abnormality.\n",
        "In summary, cardiomegaly; small right pleural effusion.",
        "</think>",
        "<answer> Cardiomegaly, Pleural Effusion </answer>",
    ]
)
PROMPT_TOKENS = 321


class FakeModelServer:
    """Serves `model`; records every request; can be told to fail, delay, or answer with given texts."""

    def __init__(self, model="nvidia/NV-Reason-CXR-3B"):
        self.model = model
        self.base_url = None  # set once listening
        self.requests = []  # {"method", "path", "headers", "body"} in the order received
        self.replies = []  # texts for the next completions, in order; then TRACE
        self.delay_s = 0.0  # before every answer: longer than the client's timeout makes it time out
        self.finish_reason = "stop"
        self.failures = []  # HTTP statuses for the next requests, in order, each with an OpenAI-style error
        self.while_generating = None  # called with the completion's number (0, 1, …) before it is answered
        self._lock = threading.Lock()  # the handler runs in one thread per request

    @property
    def completions(self):
        return [r["body"] for r in self.requests if r["path"] == "/v1/chat/completions"]

    def handle(self, method, path, headers, body):
        with self._lock:
            self.requests.append({"method": method, "path": path, "headers": headers, "body": body})
            failure = self.failures.pop(0) if self.failures else None
            answering = failure is None and path == "/v1/chat/completions"
            text = self.replies.pop(0) if answering and self.replies else TRACE
            number = len(self.completions) - 1
        if failure:
            return failure, error_body(f"scripted failure {failure}", failure)
        time.sleep(self.delay_s)
        if (method, path) == ("GET", "/v1/models"):
            return 200, {
                "object": "list",
                "data": [
                    {
                        "id": self.model,
                        "object": "model",
                        "owned_by": "vllm",
                        "root": f"/models/{self.model}",
                        "max_model_len": 8192,
                    }
                ],
            }
        if (method, path) == ("POST", "/v1/chat/completions"):
            if body.get("model") != self.model:
                return 404, error_body(f"The model `{body.get('model')}` does not exist.", 404)
            if self.while_generating:
                self.while_generating(number)
            return 200, self.completion(text)
        return 404, {"detail": "Not Found"}

    def completion(self, text):
        return {
            "id": "chatcmpl-1",
            "object": "chat.completion",
            "created": int(time.time()),
            "model": self.model,
            "choices": [
                {"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": self.finish_reason}
            ],
            "usage": {
                "prompt_tokens": PROMPT_TOKENS,
                "completion_tokens": len(text.split()),
                "total_tokens": PROMPT_TOKENS + len(text.split()),
            },
        }


def error_body(message, status):
    return {
        "error": {
            "message": message,
            "type": "BadRequestError" if status < 500 else "InternalServerError",
            "code": status,
        }
    }


def handler_for(fake):
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self):
            self.answer("GET")

        def do_POST(self):
            self.answer("POST")

        def answer(self, method):
            length = int(self.headers.get("Content-Length") or 0)
            body = json.loads(self.rfile.read(length)) if length else None
            status, payload = fake.handle(method, self.path, dict(self.headers), body)
            data = json.dumps(payload).encode()
            try:
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)
            except (BrokenPipeError, ConnectionResetError):
                pass  # the client gave up waiting: a timeout test

        def log_message(self, *args):
            pass  # keep test output clean

    return Handler


@contextmanager
def fake_model_server(**kwargs):
    fake = FakeModelServer(**kwargs)
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler_for(fake))
    server.daemon_threads = True  # a request still sleeping in a delay test must not hold up shutdown
    # A short poll interval: shutdown() waits for the next poll, and tests start and stop many servers.
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True)
    thread.start()
    fake.base_url = f"http://127.0.0.1:{server.server_address[1]}"
    try:
        yield fake
    finally:
        server.shutdown()
        server.server_close()
