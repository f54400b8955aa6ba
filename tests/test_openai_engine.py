"""The `openai` engine against a local server that speaks the protocol."""

import base64
import io

import pytest
from PIL import Image

from inference.engines.base import GenerationParams, PermanentEngineError, TransientEngineError
from inference.engines.openai_engine import OpenAIEngine
from tests.openai_server import TRACE, fake_model_server

PROMPTS = ["Find abnormalities and support devices.", "Write a structured report"]


@pytest.fixture
def server():
    with fake_model_server() as fake:
        yield fake


def engine_for(server, **options):
    return OpenAIEngine("nvidia/NV-Reason-CXR-3B", base_url=server.base_url, backoff_s=0.01, **options)


def image(width=600, height=750):
    return Image.new("RGB", (width, height), (90, 90, 90))


def test_a_conversation_sends_the_image_once_then_the_follow_up_after_the_answer(server):
    server.replies = [TRACE, "FINDINGS: enlarged heart.\nIMPRESSION: Cardiomegaly."]
    result = engine_for(server).converse(image(), PROMPTS, GenerationParams(max_new_tokens=512))
    first, second = server.completions
    assert first["model"] == "nvidia/NV-Reason-CXR-3B" and first["max_tokens"] == 512 and first["temperature"] == 0
    image_part, text_part = first["messages"][0]["content"]
    assert text_part == {"type": "text", "text": PROMPTS[0]}
    assert image_part["image_url"]["url"].startswith("data:image/png;base64,")
    png = Image.open(io.BytesIO(base64.b64decode(image_part["image_url"]["url"].split(",", 1)[1])))
    assert png.format == "PNG" and png.width * png.height <= 476 * 476
    assert [m["role"] for m in second["messages"]] == ["user", "assistant", "user"]
    assert second["messages"][1]["content"] == TRACE
    assert second["messages"][2]["content"] == [{"type": "text", "text": PROMPTS[1]}]
    assert [t.text for t in result.turns] == [TRACE, "FINDINGS: enlarged heart.\nIMPRESSION: Cardiomegaly."]
    assert (result.turns[0].tokens_in, result.turns[0].tokens_out) == (321, len(TRACE.split()))
    assert not result.turns[0].hit_token_limit


def test_a_fixed_output_length_asks_vllm_for_min_tokens(server):
    engine_for(server).converse(image(), PROMPTS[:1], GenerationParams(max_new_tokens=256, min_new_tokens=256))
    assert server.completions[0]["min_tokens"] == 256


def test_finish_reason_length_marks_the_token_limit(server):
    server.finish_reason = "length"
    result = engine_for(server).converse(image(), PROMPTS[:1], GenerationParams(max_new_tokens=8))
    assert result.turns[0].hit_token_limit


@pytest.mark.parametrize("status", [500, 503, 429])
def test_server_errors_and_rate_limits_are_retried(server, status):
    server.failures = [status, status]
    result = engine_for(server, max_retries=3).converse(image(), PROMPTS[:1], GenerationParams())
    assert result.turns[0].text == TRACE
    assert len(server.completions) == 3


def test_persistent_server_errors_become_a_transient_error_after_the_retries(server):
    server.failures = [502] * 10
    with pytest.raises(TransientEngineError, match=r"server answered 502.*after 3 tries"):
        engine_for(server, max_retries=2).converse(image(), PROMPTS[:1], GenerationParams())
    assert len(server.requests) == 3


def test_a_bad_request_fails_at_once_with_the_servers_message(server):
    server.failures = [400]
    with pytest.raises(PermanentEngineError, match="server answered 400: .*scripted failure 400"):
        engine_for(server).converse(image(), PROMPTS[:1], GenerationParams())
    assert len(server.requests) == 1


def test_a_timeout_is_transient(server):
    server.delay_s = 0.5
    with pytest.raises(TransientEngineError, match="cannot reach"):
        engine_for(server, timeout_s=0.1, max_retries=1).converse(image(), PROMPTS[:1], GenerationParams())


def test_load_checks_the_model_is_served(server):
    assert engine_for(server).load() >= 0
    with pytest.raises(PermanentEngineError, match="does not serve 'other/model'"):
        OpenAIEngine("other/model", base_url=server.base_url).load()


def test_an_unreachable_server_is_transient():
    engine = OpenAIEngine("m", base_url="http://127.0.0.1:9", max_retries=0, timeout_s=1)
    with pytest.raises(TransientEngineError, match="cannot reach"):
        engine.load()
