"""The `openai` engine: the same conversation sent to an OpenAI-compatible server (vLLM, SGLang) that serves
the model, so that many workers can share a pool of GPUs. Standard library only (the venv has no requests).

The image travels as a base64 PNG data URL with the first prompt; each follow-up sends the whole
conversation so far, the model's earlier answers as assistant messages, as the model's own demo does.
"""

import base64
import http.client
import io
import json
import time
import urllib.error
import urllib.request
from urllib.parse import urlparse

from ..preprocess import MAX_PIXELS, MIN_PIXELS, resize_to_pixel_budget
from .base import ConversationResult, Engine, PermanentEngineError, TransientEngineError, TurnResult, each_turn

# 408 and 429 say "not now"; a 5xx is the server's own trouble (a restart, an overloaded queue).
RETRYABLE_STATUS = frozenset({408, 429})
# Connection refused or reset, a timeout, a reply cut short: the server may answer the next try.
NETWORK_ERRORS = (urllib.error.URLError, TimeoutError, ConnectionError, http.client.HTTPException)
MESSAGE_CHARS = 500


class OpenAIEngine(Engine):
    name = "openai"

    def __init__(
        self,
        model_id,
        revision="",
        base_url="http://127.0.0.1:8001",
        api_key="",
        timeout_s=600,
        max_retries=3,
        backoff_s=1.0,
        min_pixels=MIN_PIXELS,
        max_pixels=MAX_PIXELS,
        **options,
    ):
        super().__init__(model_id, revision, **options)
        self.base_url = base_url.rstrip("/")
        self.api_key = api_key
        self.timeout_s = float(timeout_s)
        self.max_retries = int(max_retries)
        self.backoff_s = float(backoff_s)
        self.min_pixels, self.max_pixels = min_pixels, max_pixels
        self.served_from = None  # where the server loaded the weights from, as /v1/models reports it

    def load(self):
        """Check that the server answers and serves this model; there are no weights to load here."""
        started = time.perf_counter()
        served = {entry.get("id"): entry for entry in self._request("GET", "/v1/models").get("data", [])}
        if self.model_id not in served:
            raise PermanentEngineError(
                f"the server at {self.base_url} does not serve {self.model_id!r}; it "
                f"serves: {', '.join(map(str, served)) or 'nothing'}"
            )
        self.served_from = served[self.model_id].get("root")
        return time.perf_counter() - started

    def converse(self, image, prompts, params, case=None, keep_alive=None):
        messages, turns = [], []
        for index, prompt in each_turn(prompts, keep_alive):
            content = [{"type": "text", "text": prompt.text}]
            if index == 0:
                url = png_data_url(resize_to_pixel_budget(image, self.min_pixels, self.max_pixels))
                content.insert(0, {"type": "image_url", "image_url": {"url": url}})
            messages.append({"role": "user", "content": content})
            started = time.perf_counter()
            text, usage, finish_reason = read_completion(
                self._request("POST", "/v1/chat/completions", self._body(messages, params))
            )
            turns.append(
                TurnResult(
                    prompt=prompt,
                    text=text,
                    tokens_in=usage.get("prompt_tokens", 0),
                    tokens_out=usage.get("completion_tokens", 0),
                    seconds=time.perf_counter() - started,
                    hit_token_limit=finish_reason == "length",
                )
            )
            messages.append({"role": "assistant", "content": text})
        return ConversationResult(turns=turns)

    def software_versions(self):
        versions = {"engine": "openai", "server": urlparse(self.base_url).netloc, "served_model": self.model_id}
        if self.served_from:
            versions["served_from"] = self.served_from
        return versions

    def _body(self, messages, params):
        body = {"model": self.model_id, "messages": messages, "max_tokens": params.max_new_tokens}
        if not params.do_sample:
            body["temperature"] = 0  # greedy, as the transformers engine decodes
        else:
            # Unset values are left to the server, which takes them from the model's generation config.
            body.update(
                {key: getattr(params, key) for key in ("temperature", "top_p") if getattr(params, key) is not None}
            )
        if params.min_new_tokens:
            body["min_tokens"] = params.min_new_tokens  # a vLLM extension, for fixed-length benchmarks
        return body

    def _request(self, method, path, body=None):
        """One call, retried with exponential backoff on network errors, timeouts, 408, 429 and 5xx;
        any other 4xx fails at once: the same request would fail the same way."""
        for attempt in range(self.max_retries + 1):
            if attempt:
                time.sleep(self.backoff_s * 2 ** (attempt - 1))
            try:
                return self._send(method, path, body)
            except urllib.error.HTTPError as error:
                problem = f"server answered {error.code} to {method} {path}: {server_message(error)}"
                if error.code < 500 and error.code not in RETRYABLE_STATUS:
                    raise PermanentEngineError(problem) from None
            except NETWORK_ERRORS as error:
                problem = f"cannot reach {self.base_url}: {getattr(error, 'reason', None) or error!r}"
        raise TransientEngineError(f"{problem} (after {self.max_retries + 1} tries)")

    def _send(self, method, path, body):
        headers = {"Content-Type": "application/json"}
        if self.api_key:
            headers["Authorization"] = f"Bearer {self.api_key}"
        data = json.dumps(body).encode() if body is not None else None
        request = urllib.request.Request(self.base_url + path, data=data, method=method, headers=headers)
        with urllib.request.urlopen(request, timeout=self.timeout_s) as response:
            raw = response.read()
        try:
            return json.loads(raw)
        except ValueError:
            # Something other than an OpenAI-compatible server answers at base_url: a setting to fix.
            raise PermanentEngineError(
                f"{method} {path} at {self.base_url} did not answer JSON: {raw[:MESSAGE_CHARS]!r}"
            ) from None


def png_data_url(image):
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode()


def server_message(error):
    """The error message of an HTTP error reply: vLLM's and OpenAI's JSON shapes, else the raw body."""
    raw = error.read().decode(errors="replace")
    try:
        payload = json.loads(raw)
        detail = payload.get("error") or payload
        message = detail.get("message") if isinstance(detail, dict) else detail
    except (ValueError, AttributeError):
        message = raw
    return str(message or raw or error.reason)[:MESSAGE_CHARS]


def read_completion(reply):
    """(text, usage, finish_reason) of a chat completion."""
    try:
        choice = reply["choices"][0]
        return choice["message"]["content"] or "", reply.get("usage") or {}, choice.get("finish_reason")
    except (KeyError, IndexError, TypeError):
        raise PermanentEngineError(
            f"the server's reply has no choices[0].message.content: {json.dumps(reply)[:MESSAGE_CHARS]}"
        ) from None
