# Function calling on the local default model through the official openai SDK: required and
# named calls held to the tool's JSON Schema by a grammar (checked over twenty seeds), calls
# begun by the model itself, streamed call deltas in OpenAI's shape, the SDK's tool loop
# (call, answer, continue), and the requests it refuses. The model is tiny: what it says is
# never checked, only that its calls are what the schema allows.

import json

import jsonschema
import openai
import pydantic
import pytest

from conftest import MODEL, assert_error

WEATHER_SCHEMA = {
    "type": "object",
    "properties": {
        "city": {"type": "string", "minLength": 1, "maxLength": 40},
        "days": {"type": "integer", "minimum": 1, "maximum": 7},
        "unit": {"enum": ["celsius", "fahrenheit"]},
    },
    "required": ["city", "unit"],
    "additionalProperties": False,
}
WEATHER = {"type": "function", "function": {"name": "get_weather", "description": "Current weather in a city", "parameters": WEATHER_SCHEMA}}
TIME = {
    "type": "function",
    "function": {
        "name": "get_time",
        "description": "The time now in a time zone",
        "parameters": {"type": "object", "properties": {"zone": {"type": "string"}}, "required": ["zone"]},
    },
}
QUESTION = [{"role": "user", "content": "What is the weather in Paris?"}]


def call_of(response, name: str = "get_weather") -> dict:
    """The response's one call, which must be to `name` with arguments its schema allows."""
    choice = response.choices[0]
    assert choice.finish_reason == "tool_calls", choice
    assert choice.message.content is None, choice
    calls = choice.message.tool_calls
    assert calls is not None and len(calls) == 1, choice
    call = calls[0]
    assert call.type == "function" and call.id.startswith("call_"), call
    assert call.function.name == name, call
    arguments = json.loads(call.function.arguments)
    schema = {"get_weather": WEATHER_SCHEMA, "get_time": TIME["function"]["parameters"]}[name]
    jsonschema.validate(arguments, schema)
    return arguments


def test_a_required_call_fits_its_schema_on_every_seed(client):
    for seed in range(1, 21):
        r = client.chat.completions.create(
            model=MODEL, messages=QUESTION, tools=[WEATHER], tool_choice="required", temperature=1.0, seed=seed, max_tokens=120
        )
        call_of(r)


def test_a_named_choice_calls_that_function(client):
    named = {"type": "function", "function": {"name": "get_time"}}
    r = client.chat.completions.create(model=MODEL, messages=QUESTION, tools=[WEATHER, TIME], tool_choice=named, temperature=0, max_tokens=80)
    call_of(r, "get_time")


def test_the_model_may_begin_a_call_itself(client):
    # With `auto` the reply is free text until the model writes `<tool_call>`; this prompt
    # makes the tiny model do so (greedy), and from there the grammar holds the call.
    ask = [{"role": "user", "content": "Call get_weather for Paris. Start your reply with <tool_call>"}]
    r = client.chat.completions.create(model=MODEL, messages=ask, tools=[WEATHER], tool_choice="auto", temperature=0, max_tokens=120)
    call_of(r)
    # Without the instruction it answers in words, and a reply without a call says "stop".
    r = client.chat.completions.create(model=MODEL, messages=QUESTION, tools=[WEATHER], temperature=0, max_tokens=16)
    assert r.choices[0].message.tool_calls is None and r.choices[0].message.content, r
    assert r.choices[0].finish_reason in ("stop", "length"), r


def test_none_hides_the_tools(client):
    r = client.chat.completions.create(model=MODEL, messages=QUESTION, tools=[WEATHER], tool_choice="none", temperature=0, max_tokens=16)
    assert r.choices[0].message.tool_calls is None, r
    assert r.choices[0].message.content, r


def test_streamed_calls_follow_openais_deltas(client):
    stream = client.chat.completions.create(
        model=MODEL, messages=QUESTION, tools=[WEATHER], tool_choice="required", temperature=0.7, seed=5, max_tokens=120, stream=True
    )
    pieces, finish, first = [], None, None
    for chunk in stream:
        if not chunk.choices:
            continue
        choice = chunk.choices[0]
        assert choice.delta.content in (None, ""), chunk
        for call in choice.delta.tool_calls or []:
            assert call.index == 0, call
            if first is None:
                first = call
                assert call.id.startswith("call_") and call.type == "function" and call.function.name == "get_weather", call
            else:
                # Later pieces only add to the arguments.
                assert call.id is None and call.type is None and call.function.name is None, call
            pieces.append(call.function.arguments)
        finish = choice.finish_reason or finish
    assert finish == "tool_calls"
    assert len([p for p in pieces if p]) > 1, f"the arguments came in one piece: {pieces}"
    jsonschema.validate(json.loads("".join(pieces)), WEATHER_SCHEMA)


class GetWeather(pydantic.BaseModel):
    """Current weather in a city."""

    city: str
    unit: str


def test_the_sdk_tool_loop_runs_to_an_answer(client):
    # The SDK's own helpers: a tool from a pydantic model, arguments parsed back into it, the
    # assistant message sent back as the SDK returned it, then the tool's answer.
    tool = openai.pydantic_function_tool(GetWeather, name="get_weather")
    messages = list(QUESTION)
    r = client.chat.completions.parse(model=MODEL, messages=messages, tools=[tool], tool_choice="required", temperature=0, max_tokens=80)
    message = r.choices[0].message
    call = message.tool_calls[0]
    assert isinstance(call.function.parsed_arguments, GetWeather), call
    messages.append(message)
    messages.append({"role": "tool", "tool_call_id": call.id, "content": json.dumps({"temperature": 18, "sky": "clear"})})
    r = client.chat.completions.create(model=MODEL, messages=messages, tools=[tool], tool_choice="none", temperature=0, max_tokens=24)
    assert r.choices[0].message.content and r.choices[0].message.tool_calls is None, r
    # The same loop streamed, through the SDK's stream helper and its call events.
    with client.chat.completions.stream(
        model=MODEL, messages=list(QUESTION), tools=[tool], tool_choice="required", temperature=0, max_tokens=80
    ) as stream:
        done = [e for e in stream if e.type == "tool_calls.function.arguments.done"]
        final = stream.get_final_completion()
    assert len(done) == 1 and done[0].name == "get_weather", done
    assert isinstance(final.choices[0].message.tool_calls[0].function.parsed_arguments, GetWeather), final


@pytest.mark.parametrize(
    "change, param",
    [
        ({"tool_choice": {"type": "function", "function": {"name": "nowhere"}}}, "tool_choice"),
        ({"tool_choice": "sometimes"}, "tool_choice"),
        ({"tools": [WEATHER, WEATHER]}, "tools"),
        ({"tools": [{"type": "function", "function": {"name": "get weather", "parameters": {"type": "object"}}}]}, "tools"),
        ({"tools": [{"type": "retrieval", "function": {"name": "x"}}]}, "tools"),
        ({"tools": [{"type": "function", "function": {"name": "x", "parameters": "none"}}]}, "tools"),
        ({"response_format": {"type": "json_object"}}, "response_format"),
        ({"model": "workflow/anything"}, "tools"),
        ({"messages": QUESTION + [{"role": "tool", "content": "18 C"}]}, "messages"),
        ({"messages": [{"role": "user", "content": "Hi", "tool_calls": [{"id": "c", "type": "function", "function": {"name": "x", "arguments": "{}"}}]}]}, "messages"),
    ],
)
def test_bad_tool_requests_are_refused(http, change, param):
    body = {"model": MODEL, "messages": QUESTION, "tools": [WEATHER], "max_tokens": 8} | change
    assert_error(http.post("/v1/chat/completions", json=body), 400, "invalid", param)


def test_required_without_tools_is_refused(http):
    body = {"model": MODEL, "messages": QUESTION, "tool_choice": "required", "max_tokens": 8}
    assert_error(http.post("/v1/chat/completions", json=body), 400, "invalid", "tool_choice")
