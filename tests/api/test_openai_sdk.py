# The OpenAI-compatible `/v1` routes through the official openai SDK, as other programs use
# them: models, chat (plain, streamed, JSON-constrained), legacy completions, embeddings and
# the errors the SDK maps to its exceptions. The model is tiny, so replies are checked for
# shape, never for content (except where a grammar or a stop string decides the content).

import json
import math

import jsonschema
import openai
import pytest

from conftest import MODEL

PERSON = {
    "type": "object",
    "properties": {"name": {"type": "string"}, "age": {"type": "integer"}},
    "required": ["name", "age"],
    "additionalProperties": False,
}


def ask(client: openai.OpenAI, content, **kwargs):
    params = {"model": MODEL, "max_tokens": 24, "temperature": 0} | kwargs
    return client.chat.completions.create(messages=[{"role": "user", "content": content}], **params)


def content_of(response) -> str:
    content = response.choices[0].message.content
    assert isinstance(content, str), response
    return content


def test_models_list_contains_the_default_model(client):
    models = client.models.list().data
    assert MODEL in [m.id for m in models]
    for m in models:
        assert (m.object, m.owned_by) == ("model", "hearth"), m
        assert isinstance(m.created, int), m


def test_model_retrieve(client):
    m = client.models.retrieve(MODEL)
    assert (m.id, m.object, m.owned_by) == (MODEL, "model", "hearth")
    assert isinstance(m.created, int)


def test_chat_completion(client):
    r = ask(client, "Say hello to Ada.")
    assert (r.object, r.model, len(r.choices)) == ("chat.completion", MODEL, 1)
    choice = r.choices[0]
    assert (choice.index, choice.message.role) == (0, "assistant")
    assert len(content_of(r)) > 0
    assert choice.finish_reason in ("stop", "length")
    assert r.usage.prompt_tokens > 0 and r.usage.completion_tokens > 0
    assert r.usage.total_tokens == r.usage.prompt_tokens + r.usage.completion_tokens


def test_default_model_alias(client):
    r = ask(client, "Say hello.", model="default")
    assert len(content_of(r)) > 0
    assert r.choices[0].finish_reason in ("stop", "length")


def test_chat_stream_with_usage(client):
    chunks = list(ask(client, "Count from one to twenty.", stream=True, stream_options={"include_usage": True}))
    assert {c.object for c in chunks} == {"chat.completion.chunk"}
    assert len({c.id for c in chunks}) == 1
    assert chunks[0].choices[0].delta.role == "assistant"
    pieces = [c.choices[0].delta.content for c in chunks if c.choices and c.choices[0].delta.content]
    assert len(pieces) > 1 and "".join(pieces)
    finishes = [c.choices[0].finish_reason for c in chunks if c.choices and c.choices[0].finish_reason]
    assert finishes in (["stop"], ["length"]), finishes
    last = chunks[-1]
    assert last.choices == [] and last.usage is not None, last
    assert last.usage.completion_tokens > 0 and last.usage.prompt_tokens > 0
    assert all(c.usage is None for c in chunks[:-1])


def test_chat_stream_without_usage(client):
    chunks = list(ask(client, "Count from one to twenty.", stream=True))
    assert all(c.choices and c.usage is None for c in chunks)
    assert [c.choices[0].finish_reason for c in chunks][-1] in ("stop", "length")


def test_json_schema_response_format_is_enforced(client):
    schema_format = {"type": "json_schema", "json_schema": {"name": "person", "schema": PERSON, "strict": True}}
    r = ask(client, "Ada is 36 years old. Reply with JSON giving her name and age.", max_tokens=200, response_format=schema_format)
    assert r.choices[0].finish_reason == "stop", content_of(r)
    jsonschema.validate(json.loads(content_of(r)), PERSON)


def quiet_client(start_hearth) -> openai.OpenAI:
    """A client of a server of its own. Greedy text is reproducible only there: on the shared
    server, replies other tests started may still run, and llama.cpp's attention is not
    exactly batch-invariant when another request's prompt is decoded in the same step (a
    known engine gap, see the notes)."""
    server = start_hearth()
    return openai.OpenAI(base_url=server.base_url + "/v1", api_key=server.token)


def test_json_object_response_format(start_hearth):
    # The grammar holds every reply to a JSON object; the small model does not always close
    # it within the budget, so draws continue (seeded, on a quiet server: reproducible) until
    # one ends by itself. Every draw must be an object or, cut at the budget, start as one.
    quiet = quiet_client(start_hearth)
    finished = []
    for seed in range(1, 9):
        r = ask(quiet, 'Reply with a JSON object whose key "animal" is "cat".', max_tokens=200, temperature=0.7, seed=seed,
                response_format={"type": "json_object"})
        text = content_of(r)
        assert text.startswith("{"), text
        if r.choices[0].finish_reason == "stop":
            finished.append(json.loads(text))
            break
        assert r.choices[0].finish_reason == "length", r
    assert finished and isinstance(finished[0], dict), "no draw closed its object within 200 tokens"


def test_embeddings_base64_and_float_agree(client):
    texts = ["The cat sat on the mat.", "Rust is a programming language."]
    packed = client.embeddings.create(model=MODEL, input=texts)  # the SDK asks for base64
    plain = client.embeddings.create(model=MODEL, input=texts, encoding_format="float")
    for r in (packed, plain):
        assert (r.object, r.model, [d.index for d in r.data]) == ("list", MODEL, [0, 1])
        assert r.usage.prompt_tokens > 0
    for a, b in zip(packed.data, plain.data):
        assert len(a.embedding) == len(b.embedding) > 0
        assert max(abs(x - y) for x, y in zip(a.embedding, b.embedding)) <= 1e-5
        assert math.isclose(math.hypot(*b.embedding), 1.0, abs_tol=1e-3)
    assert plain.data[0].embedding != plain.data[1].embedding


def test_unknown_model_is_not_found(client):
    with pytest.raises(openai.NotFoundError) as e:
        ask(client, "Hi", model="no-such-model")
    assert (e.value.code, e.value.param) == ("not_found", "model")


def test_wrong_api_key_is_rejected(hearth):
    with openai.OpenAI(base_url=hearth.base_url + "/v1", api_key="wrong-" + hearth.token, max_retries=0) as wrong:
        with pytest.raises(openai.AuthenticationError) as e:
            wrong.models.list()
    assert e.value.code == "unauthorized"


def test_n_above_one_is_a_bad_request(client):
    with pytest.raises(openai.BadRequestError) as e:
        ask(client, "Hi", n=2)
    assert (e.value.code, e.value.param) == ("invalid", "n")


def test_legacy_completion(client):
    r = client.completions.create(model=MODEL, prompt="The capital of France is", max_tokens=16, temperature=0)
    assert (r.object, r.model, len(r.choices)) == ("text_completion", MODEL, 1)
    assert isinstance(r.choices[0].text, str) and r.choices[0].text
    assert r.choices[0].finish_reason in ("stop", "length")
    assert r.usage.prompt_tokens > 0 and r.usage.completion_tokens > 0


def test_legacy_completion_stream(client):
    chunks = list(client.completions.create(model=MODEL, prompt="Once upon a time", max_tokens=16, temperature=0, stream=True))
    assert "".join(c.choices[0].text for c in chunks if c.choices)
    assert [c.choices[0].finish_reason for c in chunks if c.choices][-1] in ("stop", "length")


def test_content_part_arrays(client):
    messages = [
        {"role": "system", "content": [{"type": "text", "text": "You answer briefly."}]},
        {"role": "user", "content": [{"type": "text", "text": "Name a color."}, {"type": "text", "text": " Just one."}]},
    ]
    r = client.chat.completions.create(model=MODEL, messages=messages, max_tokens=16, temperature=0)
    assert len(content_of(r)) > 0


def test_developer_and_assistant_roles(client):
    messages = [
        {"role": "developer", "content": "You answer briefly."},
        {"role": "user", "content": "Name a color."},
        {"role": "assistant", "content": "Blue."},
        {"role": "user", "content": "Another one?"},
    ]
    r = client.chat.completions.create(model=MODEL, messages=messages, max_tokens=16, temperature=0)
    assert len(content_of(r)) > 0


def test_stop_as_a_string(client):
    r = ask(client, "Write three short lines about rain.", max_tokens=48, stop="\n")
    assert "\n" not in content_of(r)
    assert r.choices[0].finish_reason in ("stop", "length")


def test_stop_as_a_list(client):
    r = ask(client, "Write three short sentences about rain.", max_tokens=48, stop=["\n", "."])
    assert "\n" not in content_of(r) and "." not in content_of(r)
    assert r.choices[0].finish_reason in ("stop", "length")


def test_more_than_four_stops_is_a_bad_request(client):
    with pytest.raises(openai.BadRequestError) as e:
        ask(client, "Hi", stop=["a", "b", "c", "d", "e"])
    assert (e.value.code, e.value.param) == ("invalid", "stop")


@pytest.mark.parametrize("temperature", [0.0, 0.9])
def test_same_seed_gives_the_same_text(start_hearth, temperature):
    quiet = quiet_client(start_hearth)
    first = ask(quiet, "Name three colors.", temperature=temperature, seed=7)
    second = ask(quiet, "Name three colors.", temperature=temperature, seed=7)
    assert content_of(first) == content_of(second)
