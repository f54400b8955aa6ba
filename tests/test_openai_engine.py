"""The `openai` engine against a local server that speaks the protocol as vLLM does."""

import base64
import io
import time

import pytest
from PIL import Image

from inference.engines.base import (
    DEFAULT_PROMPT,
    REPORT_PROMPT,
    GenerationParams,
    PermanentEngineError,
    TransientEngineError,
)
from inference.engines.openai_engine import OpenAIEngine
from tests.openai_server import PROMPT_TOKENS, TRACE, fake_model_server
from tests.prompts import DIFFERENTIALS, FINDINGS, REPORT

PROMPTS = [FINDINGS, REPORT]
REPORT_TEXT = "FINDINGS: enlarged heart.\nIMPRESSION: 1. Cardiomegaly."


@pytest.fixture
def server():
    with fake_model_server() as fake:
        yield fake


def engine_for(server, **options):
    # Tiny backoff and timeout keep the retry tests fast.
    return OpenAIEngine(server.model, base_url=server.base_url, **{"backoff_s": 0.01, "timeout_s": 5, **options})


def grey_image(width=300, height=400):
    return Image.new("RGB", (width, height), (90, 90, 90))


def sent_png(request_body):
    url = request_body["messages"][0]["content"][0]["image_url"]["url"]
    prefix, data = url.split(",", 1)
    assert prefix == "data:image/png;base64"
    return Image.open(io.BytesIO(base64.b64decode(data)))


def test_the_first_request_carries_the_image_and_prompt_and_decodes_greedily(server):
    engine_for(server, api_key="secret").converse(grey_image(), [FINDINGS], GenerationParams(max_new_tokens=512))
    (request,) = server.requests
    assert (request["method"], request["path"]) == ("POST", "/v1/chat/completions")
    assert request["headers"]["Authorization"] == "Bearer secret"
    body = request["body"]
    assert (body["model"], body["max_tokens"], body["temperature"]) == (server.model, 512, 0)
    assert "min_tokens" not in body and "top_p" not in body
    (message,) = body["messages"]
    assert message["role"] == "user"
    assert message["content"][0]["type"] == "image_url"
    assert message["content"][1] == {"type": "text", "text": DEFAULT_PROMPT}


def test_the_image_is_sent_as_a_png_of_its_size_within_the_pixel_budget(server):
    engine_for(server).converse(grey_image(300, 400), [FINDINGS], GenerationParams())
    png = sent_png(server.completions[0])
    assert (png.format, png.size) == ("PNG", (300, 400))


def test_an_image_over_the_pixel_budget_is_scaled_into_it(server):
    engine_for(server, max_pixels=200 * 200).converse(grey_image(1000, 1250), [FINDINGS], GenerationParams())
    png = sent_png(server.completions[0])
    assert png.width * png.height <= 200 * 200 and abs(png.width / png.height - 0.8) < 0.01


def test_follow_ups_resend_the_conversation_with_the_answers_and_the_image_only_once(server):
    server.replies = [TRACE, REPORT_TEXT, "1. Cardiomegaly: cardiomyopathy."]
    prompts = [FINDINGS, REPORT, DIFFERENTIALS]
    result = engine_for(server).converse(grey_image(), prompts, GenerationParams())
    first, second, third = server.completions
    assert second["messages"][0] == first["messages"][0]
    assert second["messages"][1:] == [
        {"role": "assistant", "content": TRACE},
        {"role": "user", "content": [{"type": "text", "text": REPORT_PROMPT}]},
    ]
    assert [message["role"] for message in third["messages"]] == ["user", "assistant", "user", "assistant", "user"]
    assert third["messages"][3] == {"role": "assistant", "content": REPORT_TEXT}
    images = [
        part
        for message in third["messages"]
        if message["role"] == "user"
        for part in message["content"]
        if part["type"] == "image_url"
    ]
    assert len(images) == 1
    assert [turn.text for turn in result.turns] == [TRACE, REPORT_TEXT, "1. Cardiomegaly: cardiomyopathy."]
    assert [turn.prompt for turn in result.turns] == prompts
    assert result.deliberate_errors == []


def test_token_counts_come_from_the_servers_usage(server):
    turn = engine_for(server).converse(grey_image(), [FINDINGS], GenerationParams()).turns[0]
    assert (turn.tokens_in, turn.tokens_out, turn.hit_token_limit) == (PROMPT_TOKENS, len(TRACE.split()), False)
    assert turn.seconds > 0


def test_finish_reason_length_marks_the_token_limit(server):
    server.finish_reason = "length"
    turn = engine_for(server).converse(grey_image(), [FINDINGS], GenerationParams(max_new_tokens=8)).turns[0]
    assert turn.hit_token_limit


def test_a_fixed_output_length_asks_vllm_for_min_tokens(server):
    params = GenerationParams(max_new_tokens=256, min_new_tokens=256)
    engine_for(server).converse(grey_image(), [FINDINGS], params)
    assert server.completions[0]["min_tokens"] == 256


def test_sampling_passes_its_parameters(server):
    params = GenerationParams(do_sample=True, temperature=0.7, top_p=0.9)
    engine_for(server).converse(grey_image(), [FINDINGS], params)
    assert (server.completions[0]["temperature"], server.completions[0]["top_p"]) == (0.7, 0.9)


@pytest.mark.parametrize("status", [500, 503, 429])
def test_server_errors_and_rate_limits_are_retried_until_an_answer_comes(server, status):
    server.failures = [status, status]
    result = engine_for(server, max_retries=3).converse(grey_image(), [FINDINGS], GenerationParams())
    assert result.turns[0].text == TRACE
    assert len(server.completions) == 3


def test_retries_back_off_exponentially_then_give_up_with_a_transient_error(server):
    server.failures = [502] * 10
    started = time.perf_counter()
    with pytest.raises(TransientEngineError, match=r"answered 502 .*scripted failure 502 \(after 4 tries\)"):
        engine_for(server, max_retries=3, backoff_s=0.05).converse(grey_image(), [FINDINGS], GenerationParams())
    assert time.perf_counter() - started >= 0.05 + 0.1 + 0.2
    assert len(server.requests) == 4


def test_a_bad_request_fails_at_once_with_the_servers_message(server):
    server.failures = [400]
    with pytest.raises(PermanentEngineError, match="answered 400 to POST /v1/chat/completions: scripted failure 400"):
        engine_for(server).converse(grey_image(), PROMPTS, GenerationParams())
    assert len(server.requests) == 1


def test_a_model_the_server_does_not_serve_fails_at_once(server):
    engine = OpenAIEngine("other/model", base_url=server.base_url, backoff_s=0.01)
    with pytest.raises(PermanentEngineError, match="answered 404 .*`other/model` does not exist"):
        engine.converse(grey_image(), [FINDINGS], GenerationParams())
    assert len(server.requests) == 1


def test_a_timeout_is_retried_then_transient(server):
    server.delay_s = 1.0
    started = time.perf_counter()
    with pytest.raises(TransientEngineError, match=r"cannot reach .*timed out.*after 2 tries"):
        engine_for(server, timeout_s=0.05, max_retries=1).converse(grey_image(), [FINDINGS], GenerationParams())
    assert len(server.requests) == 2 and time.perf_counter() - started < 1.0


def test_load_checks_the_model_is_served_and_records_where_it_came_from(server):
    engine = engine_for(server)
    assert engine.load() >= 0
    assert engine.software_versions() == {
        "engine": "openai",
        "server": server.base_url.removeprefix("http://"),
        "served_model": server.model,
        "served_from": f"/models/{server.model}",
    }


def test_load_names_the_missing_model_and_what_the_server_serves(server):
    with pytest.raises(PermanentEngineError, match=r"does not serve 'other/model'; it serves: nvidia/NV-Reason"):
        OpenAIEngine("other/model", base_url=server.base_url).load()


def test_an_unreachable_server_is_transient():
    with fake_model_server() as stopped:
        url = stopped.base_url  # a port that nothing listens on once the server is closed
    engine = OpenAIEngine("m", base_url=url, max_retries=1, backoff_s=0.01, timeout_s=1)
    with pytest.raises(TransientEngineError, match=r"cannot reach .*after 2 tries"):
        engine.load()
