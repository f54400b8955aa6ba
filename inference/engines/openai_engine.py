"""The `openai` engine: the same conversation sent to an OpenAI-compatible server (vLLM, SGLang) that
serves the model, so that many workers can share a pool of GPUs. Standard library only."""

import base64
import io
import json
import time
import urllib.error
import urllib.request
from urllib.parse import urlparse

from ..preprocess import resize_to_pixel_budget
from .base import ConversationResult, Engine, PermanentEngineError, TransientEngineError, TurnResult

RETRYABLE_STATUS = {408, 429, 500, 502, 503, 504}


class OpenAIEngine(Engine):
    name = "openai"

    def __init__(self, model_id, revision="", base_url="http://127.0.0.1:8001", api_key="", timeout_s=600,
                 max_retries=3, backoff_s=1.0, min_pixels=128 * 128, max_pixels=476 * 476, **options):
        super().__init__(model_id, revision, **options)
        self.base_url = base_url.rstrip("/")
        self.api_key = api_key
        self.timeout_s = float(timeout_s)
        self.max_retries = int(max_retries)
        self.backoff_s = float(backoff_s)
        self.min_pixels, self.max_pixels = min_pixels, max_pixels

    def load(self):
        """Check the server answers and serves this model (no weights to load here)."""
        started = time.perf_counter()
        served = [entry.get("id") for entry in self._request("GET", "/v1/models").get("data", [])]
        if self.model_id not in served:
            raise PermanentEngineError(f"the server at {self.base_url} does not serve {self.model_id!r} "
                                       f"(it serves {', '.join(map(str, served)) or 'nothing'})")
        return time.perf_counter() - started

    def converse(self, image, prompts, params, case=None):
        messages, turns = [], []
        for index, prompt in enumerate(prompts):
            content = [{"type": "text", "text": prompt}]
            if index == 0:
                # The image goes with the first prompt only, as in the model's own demo.
                content.insert(0, {"type": "image_url", "image_url": {"url": image_data_url(
                    resize_to_pixel_budget(image, self.min_pixels, self.max_pixels))}})
            messages.append({"role": "user", "content": content})
            started = time.perf_counter()
            reply = self._request("POST", "/v1/chat/completions", self._body(messages, params))
            text, usage, finish = _read_reply(reply)
            turns.append(TurnResult(prompt=prompt, text=text, tokens_in=usage.get("prompt_tokens", 0),
                                    tokens_out=usage.get("completion_tokens", 0),
                                    seconds=time.perf_counter() - started, hit_token_limit=finish == "length"))
            messages.append({"role": "assistant", "content": text})
        return ConversationResult(turns=turns)

    def software_versions(self):
        return {"engine": "openai", "server": urlparse(self.base_url).netloc, "served_model": self.model_id}

    def _body(self, messages, params):
        body = {"model": self.model_id, "messages": messages, "max_tokens": params.max_new_tokens,
                "temperature": params.temperature if params.do_sample and params.temperature is not None else 0}
        if params.do_sample and params.top_p is not None:
            body["top_p"] = params.top_p
        if params.min_new_tokens:
            body["min_tokens"] = params.min_new_tokens  # a vLLM extension
        return body

    def _request(self, method, path, body=None):
        """One call with retries on connection errors, timeouts, 429 and 5xx; other 4xx fail at once."""
        last_error = None
        for attempt in range(self.max_retries + 1):
            if attempt:
                time.sleep(self.backoff_s * 2 ** (attempt - 1))
            try:
                return self._send(method, path, body)
            except urllib.error.HTTPError as error:
                detail = error.read().decode(errors="replace")[:500]
                if error.code not in RETRYABLE_STATUS:
                    raise PermanentEngineError(f"server answered {error.code}: {detail}") from None
                last_error = f"server answered {error.code}: {detail}"
            except (urllib.error.URLError, TimeoutError, ConnectionError) as error:
                last_error = f"cannot reach {self.base_url}: {getattr(error, 'reason', error)}"
        raise TransientEngineError(f"{last_error} (after {self.max_retries + 1} tries)")

    def _send(self, method, path, body):
        headers = {"Content-Type": "application/json"}
        if self.api_key:
            headers["Authorization"] = f"Bearer {self.api_key}"
        data = json.dumps(body).encode() if body is not None else None
        request = urllib.request.Request(self.base_url + path, data=data, method=method, headers=headers)
        with urllib.request.urlopen(request, timeout=self.timeout_s) as response:
            return json.loads(response.read())


def image_data_url(image):
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode()


def _read_reply(reply):
    try:
        choice = reply["choices"][0]
        return choice["message"]["content"] or "", reply.get("usage", {}), choice.get("finish_reason")
    except (KeyError, IndexError, TypeError):
        raise PermanentEngineError("the server's reply has no choices[0].message.content") from None
