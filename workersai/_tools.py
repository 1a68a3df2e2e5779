"""Tool calling: definitions, tool_choice, call ids, argument parsing and salvage.

Workers AI returns tool calls in three shapes (wire reference §3.2): legacy
``{name, arguments: object}`` without id, OpenAI ``{id, type, function{name, arguments: str}}``
and OpenAI with ``arguments`` as an object. Argument values are often strings (``"4"``) or
JSON-encoded strings (``"[1, 2]"``); when the tool's schema is known they are coerced to the
declared types here, once, for every adapter.
"""

from __future__ import annotations

import copy
import json
import re
import uuid
from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import Any

from workersai import _json
from workersai.errors import InvalidInputError
from workersai.results import ToolCall

# Kimi-style turn-scoped ids ("functions.get_weather:0") repeat across turns (cloudflare/ai#526).
_TURN_SCOPED_ID = re.compile(r"^functions\.[^:\s]+:\d+$")
# Suffix we add to make such ids unique; stripped again before the id goes back on the wire.
_ID_SUFFIX = "~wai"
_JSON_START = re.compile(r"[{\[]")
_CODE_FENCE = re.compile(r"^\s*```(?:json)?\s*(.*?)\s*```\s*$", re.DOTALL)


def new_tool_call_id() -> str:
    return "call_" + uuid.uuid4().hex[:24]


def unique_tool_call_id(raw_id: Any) -> str:
    """An id safe to key on: generated when absent, made unique when turn-scoped."""
    if not isinstance(raw_id, str) or not raw_id:
        return new_tool_call_id()
    if _TURN_SCOPED_ID.match(raw_id):
        # Any suffix length would do: 8 hex digits only need to be unique among live calls.
        return f"{raw_id}{_ID_SUFFIX}{uuid.uuid4().hex[:8]}"  # pragma: no mutate
    return raw_id


def wire_tool_call_id(tool_call_id: str) -> str:
    """The id as the model originally sent it (undoes :func:`unique_tool_call_id`)."""
    # No mutation: rpartition differs only for an id holding the suffix twice, which
    # unique_tool_call_id never makes.
    return tool_call_id.partition(_ID_SUFFIX)[0]  # pragma: no mutate


# --------------------------------------------------------------------------------------
# Definitions and tool_choice
# --------------------------------------------------------------------------------------


def inline_refs(schema: Mapping[str, Any]) -> dict[str, Any]:
    """Return ``schema`` with local ``$ref``s replaced by their ``$defs``/``definitions``.

    Workers AI does not resolve JSON-Schema references. Recursive references cannot be
    inlined; they raise :class:`InvalidInputError`.
    """
    defs: dict[str, Any] = {}
    for key in ("$defs", "definitions"):
        found = schema.get(key)
        if isinstance(found, Mapping):
            defs.update({f"#/{key}/{name}": value for name, value in found.items()})

    def resolve(node: Any, stack: tuple[str, ...]) -> Any:
        if isinstance(node, Mapping):
            ref = node.get("$ref")
            if isinstance(ref, str):
                if ref not in defs:
                    raise InvalidInputError(f"cannot resolve JSON-schema reference {ref!r}")
                if ref in stack:
                    raise InvalidInputError(
                        f"recursive JSON-schema reference {ref!r} cannot be sent to Workers AI"
                    )
                target = resolve(defs[ref], (*stack, ref))
                siblings = {k: resolve(v, stack) for k, v in node.items() if k != "$ref"}
                return {**target, **siblings}
            return {
                k: resolve(v, stack) for k, v in node.items() if k not in ("$defs", "definitions")
            }
        if isinstance(node, list):
            return [resolve(item, stack) for item in node]
        return node

    try:
        if not defs and "$ref" not in _json.dumps_str(schema):
            return copy.deepcopy(dict(schema))
        return resolve(schema, ())
    except RecursionError:
        raise InvalidInputError(
            "the JSON schema is nested too deeply to send to Workers AI",
            hint="Flatten the schema (a few levels of nesting are plenty for a tool).",
        ) from None


def normalize_tools(tools: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Tools in OpenAI form ``{type: function, function: {name, description, parameters}}``,
    references inlined. Legacy flat ``{name, description, parameters}`` is accepted too."""
    if isinstance(tools, (str, bytes, Mapping)) or not isinstance(tools, Sequence):
        raise InvalidInputError(
            f"tools must be a list of tool definitions, got {type(tools).__name__}",
            field="tools",
        )
    out: list[dict[str, Any]] = []
    for index, tool in enumerate(tools):
        if not isinstance(tool, Mapping):
            raise InvalidInputError(f"tools[{index}] must be a mapping", field=f"tools.{index}")
        kind = tool.get("type", "function")
        if kind != "function":
            raise InvalidInputError(
                f"tools[{index}] has type {kind!r}; Workers AI takes only function tools",
                field=f"tools.{index}.type",
            )
        function = tool.get("function")
        spec = function if isinstance(function, Mapping) else tool
        name = spec.get("name")
        if not isinstance(name, str) or not name:
            raise InvalidInputError(f"tools[{index}] has no name", field=f"tools.{index}.name")
        parameters = spec.get("parameters") or {"type": "object", "properties": {}}
        if not isinstance(parameters, Mapping):
            raise InvalidInputError(
                f"tools[{index}].parameters must be a JSON schema object",
                field=f"tools.{index}.parameters",
            )
        entry: dict[str, Any] = {"name": name, "parameters": inline_refs(parameters)}
        description = spec.get("description")
        if isinstance(description, str) and description:
            entry["description"] = description
        if "strict" in spec:
            entry["strict"] = spec["strict"]
        out.append({"type": "function", "function": entry})
    names = [t["function"]["name"] for t in out]
    if len(set(names)) != len(names):
        raise InvalidInputError(f"tool names must be unique, got {names}", field="tools")
    return out


def normalize_tool_choice(choice: Any, tool_names: Sequence[str]) -> str | dict[str, Any] | None:
    """Map LangChain/LlamaIndex spellings onto what Workers AI accepts.

    ``"any"`` and ``True`` → ``"required"`` (``True`` with one tool → that tool); a bare tool
    name → ``{"type": "function", "function": {"name": ...}}`` (enforced server-side, unlike
    ``"required"``, which is advisory on Workers AI — wire reference §3.1).
    """
    if choice is None or choice is False:
        return None
    if choice is True:
        return _named(tool_names[0]) if len(tool_names) == 1 else "required"
    if isinstance(choice, str):
        if choice in ("auto", "none", "required"):
            return choice
        if choice == "any":
            return "required"
        if choice in tool_names:
            return _named(choice)
        raise InvalidInputError(
            f"tool_choice {choice!r} is neither 'auto', 'none', 'required', 'any' nor the name "
            f"of a bound tool ({', '.join(tool_names) or 'no tools bound'})",
            field="tool_choice",
        )
    if isinstance(choice, Mapping):
        function = choice.get("function")
        name = function.get("name") if isinstance(function, Mapping) else choice.get("name")
        if isinstance(name, str):
            if tool_names and name not in tool_names:
                raise InvalidInputError(
                    f"tool_choice names {name!r}, which is not a bound tool", field="tool_choice"
                )
            return _named(name)
    raise InvalidInputError(f"unsupported tool_choice {choice!r}", field="tool_choice")


def _named(name: str) -> dict[str, Any]:
    return {"type": "function", "function": {"name": name}}


def forced_tool(choice: Any) -> str | bool:
    """The forced tool's name, ``True`` for "some tool", or ``False``."""
    if choice == "required":
        return True
    if isinstance(choice, Mapping):
        function = choice.get("function")
        if isinstance(function, Mapping) and isinstance(function.get("name"), str):
            return str(function["name"])
    return False


# --------------------------------------------------------------------------------------
# Arguments
# --------------------------------------------------------------------------------------


def _types_of(schema: Mapping[str, Any]) -> list[str]:
    declared = schema.get("type")
    if isinstance(declared, str):
        return [declared]
    if isinstance(declared, list):
        return [t for t in declared if isinstance(t, str)]
    types: list[str] = []
    for key in ("anyOf", "oneOf"):
        for option in schema.get(key) or ():
            if isinstance(option, Mapping):
                types.extend(_types_of(option))
    return types


def _object_schema(schema: Mapping[str, Any]) -> Mapping[str, Any] | None:
    if isinstance(schema.get("properties"), Mapping):
        return schema
    for key in ("anyOf", "oneOf"):
        for option in schema.get(key) or ():
            if isinstance(option, Mapping) and isinstance(option.get("properties"), Mapping):
                return option
    return None


def _items_schema(schema: Mapping[str, Any]) -> Mapping[str, Any] | None:
    # Optional[list[int]] is {"anyOf": [{"type": "array", "items": ...}, {"type": "null"}]}.
    if isinstance(schema.get("items"), Mapping):
        return schema["items"]
    for key in ("anyOf", "oneOf"):
        for option in schema.get(key) or ():
            if isinstance(option, Mapping) and isinstance(option.get("items"), Mapping):
                return option["items"]
    return None


def _coerce(value: Any, schema: Mapping[str, Any]) -> Any:
    types = _types_of(schema)
    if not types:
        return value
    if isinstance(value, str) and "string" not in types:
        text = value.strip()
        try:
            decoded = _json.loads(text)
        except ValueError:
            # No mutation: any value that matches no type would do ("" is no non-string type).
            decoded = None  # pragma: no mutate
            if "boolean" in types and text.lower() in ("true", "false"):
                decoded = text.lower() == "true"
        if decoded is not None and _matches(decoded, types):
            value = decoded
        elif text == "null" and "null" in types:
            value = None  # Optional[int] sent as "null": the tool wants None, not the word
    elif isinstance(value, (int, float)) and not isinstance(value, bool) and types == ["string"]:
        value = str(value)
    if (
        isinstance(value, float)
        and value.is_integer()
        and "integer" in types
        and "number" not in types
    ):
        value = int(value)
    if isinstance(value, dict):
        object_schema = _object_schema(schema)
        if object_schema is not None:
            return coerce_arguments(value, object_schema)
    if isinstance(value, list):
        items = _items_schema(schema)
        if items is not None:
            return [_coerce(item, items) for item in value]
    return value


def _matches(value: Any, types: list[str]) -> bool:
    checks = {
        "integer": lambda v: (
            (isinstance(v, int) and not isinstance(v, bool))
            or (isinstance(v, float) and v.is_integer())
        ),
        "number": lambda v: isinstance(v, (int, float)) and not isinstance(v, bool),
        "boolean": lambda v: isinstance(v, bool),
        "array": lambda v: isinstance(v, list),
        "object": lambda v: isinstance(v, dict),
        "null": lambda v: v is None,
    }
    return any(checks[t](value) for t in types if t in checks)


def coerce_arguments(arguments: dict[str, Any], schema: Mapping[str, Any] | None) -> dict[str, Any]:
    """Coerce string-typed values to the types ``schema`` declares (``"4"`` → ``4``,
    ``"[1,2]"`` → ``[1, 2]``, ``"true"`` → ``True``). Values already right stay as they are."""
    if not schema:
        return arguments
    properties = schema.get("properties")
    if not isinstance(properties, Mapping):
        return arguments
    return {
        key: _coerce(value, properties[key]) if isinstance(properties.get(key), Mapping) else value
        for key, value in arguments.items()
    }


def parse_arguments(raw: Any) -> tuple[dict[str, Any], str, str | None]:
    """``(arguments, arguments_as_json_text, error)`` for any wire form of ``arguments``."""
    if raw is None or raw == "":
        return {}, "{}", None
    if isinstance(raw, Mapping):
        return dict(raw), _json.dumps_str(raw), None
    if not isinstance(raw, str):
        return (
            {},
            _json.dumps_str(raw),
            f"arguments must be a JSON object, got {type(raw).__name__}",
        )
    try:
        value = _json.loads(raw)
        if isinstance(value, str):  # double-encoded: "\"{\\\"a\\\": 1}\""
            value = _json.loads(value)
    except ValueError as exc:
        return {}, raw, f"arguments are not valid JSON: {exc}"
    if value is None:
        return {}, raw, None
    if not isinstance(value, dict):
        return {}, raw, f"arguments must be a JSON object, got {type(value).__name__}"
    return value, raw, None


def complete_arguments(raw: Any, schema: Mapping[str, Any] | None) -> str:
    """JSON text of a *complete* call's arguments, coerced to ``schema`` when they parse.

    Used for streamed events that carry a whole call (flat ``{name, arguments}`` or object
    arguments); text that is not a JSON object is returned unchanged so the adapter can
    report it as an invalid tool call.
    """
    arguments, text, error = parse_arguments(raw)
    if error is None and schema:
        return _json.dumps_str(coerce_arguments(arguments, schema))
    return text


# Harmony channel markers gpt-oss leaves on a tool name ("get_weather<|channel|>commentary",
# NorthlandPositronics/Cogtrix#2023 on vLLM; wire reference §10.5).
_HARMONY_MARKER = "<|"


def bound_tool_name(name: str, schemas: Mapping[str, Mapping[str, Any]] | None) -> str:
    """``name`` without a harmony suffix when what precedes it is a bound tool."""
    if schemas and name not in schemas and _HARMONY_MARKER in name:
        head = name.partition(_HARMONY_MARKER)[0].strip()
        if head in schemas:
            return head
    return name


# gemma-4 and glm-4.7-flash served by Workers AI sometimes write the string-delimiter control
# token where an argument's value belongs: {"itemId": "<|\"|"} instead of the id
# (cloudflare/workers-sdk#13333). The value is lost; run as is, the tool gets garbage.
_LEAKED_TOKEN = '<|"|'


def _holds_leaked_token(value: Any) -> bool:
    if isinstance(value, str):
        return _LEAKED_TOKEN in value
    if isinstance(value, Mapping):
        return any(_holds_leaked_token(item) for item in value.values())
    if isinstance(value, list):
        return any(_holds_leaked_token(item) for item in value)
    return False


def tool_call_from_wire(
    raw: Mapping[str, Any], schemas: Mapping[str, Mapping[str, Any]] | None = None
) -> ToolCall | None:
    """One tool call from any of the three wire shapes; ``None`` for empty sentinels.

    When tools were bound (``schemas``), a call of any other tool is an *invalid* call: no
    agent can run it, and a framework handed it as valid would look for a tool that does not
    exist (wire reference §10.5).
    """
    function = raw.get("function")
    if isinstance(function, Mapping):
        name = function.get("name")
        arguments_raw = function.get("arguments")
    else:
        name = raw.get("name")
        arguments_raw = raw.get("arguments", raw.get("parameters"))
    if not isinstance(name, str) or not name:
        return None
    name = bound_tool_name(name, schemas)
    arguments, text, error = parse_arguments(arguments_raw)
    schema = schemas.get(name) if schemas else None
    if error is None and schema:
        arguments = coerce_arguments(arguments, schema)
        text = _json.dumps_str(arguments)
    if error is None and schemas and schema is None:
        error = f"{name!r} is not one of the bound tools ({', '.join(schemas)})"
    if error is None and _holds_leaked_token(arguments):
        error = (
            f"the arguments hold the control token {_LEAKED_TOKEN!r} where a value belongs "
            "(a Workers AI serving fault, cloudflare/workers-sdk#13333); ask the model again"
        )
    return ToolCall(
        id=unique_tool_call_id(raw.get("id")),
        name=name,
        arguments=arguments,
        raw_arguments=text,
        error=error,
    )


def _json_values(text: str) -> Iterator[Any]:
    """Each JSON object or array embedded in prose (``Sure: {...} done``), left to right."""
    decoder = json.JSONDecoder()
    end = 0
    for start in _JSON_START.finditer(text):
        if start.start() < end:
            continue  # inside the value just yielded
        try:
            value, end = decoder.raw_decode(text, start.start())
        except ValueError:
            continue
        yield value


def _value_fits(value: Any, schema: Mapping[str, Any]) -> bool:
    types = _types_of(schema)
    if not types or (isinstance(value, str) and "string" in types):
        return True
    return _matches(value, types)


def arguments_fit(arguments: Mapping[str, Any], schema: Mapping[str, Any]) -> bool:
    """Whether ``arguments`` (already coerced) can be a call of the tool ``schema`` describes:
    every required key is there, no key is foreign (unless ``additionalProperties`` allows
    it) and each declared value has its declared type. Decides what JSON text is a call."""
    properties = schema.get("properties")
    properties = properties if isinstance(properties, Mapping) else {}
    required = schema.get("required")
    for key in required if isinstance(required, list) else ():
        if isinstance(key, str) and key not in arguments:
            return False
    # JSON Schema: `true` and any schema (even `{}`) admit other keys; `false` and, for this
    # decision only, an absent keyword do not (a text is a call only when it clearly is one).
    extra = schema.get("additionalProperties")
    foreign_allowed = extra is True or isinstance(extra, Mapping)
    for key, value in arguments.items():
        spec = properties.get(key)
        if not isinstance(spec, Mapping):
            if not foreign_allowed:
                return False
        elif not _value_fits(value, spec):
            return False
    return True


def _salvaged(
    item: Any, schemas: Mapping[str, Mapping[str, Any]], forced_name: str | None
) -> ToolCall | None:
    """The call one JSON object written as text stands for, or ``None``."""
    if not isinstance(item, Mapping):
        return None
    function = item.get("function")
    spec = function if isinstance(function, Mapping) else item
    name = spec.get("name")
    if isinstance(name, str) and bound_tool_name(name, schemas) in schemas:
        if "arguments" in spec or "parameters" in spec:
            arguments: Any = spec.get("arguments", spec.get("parameters"))
        else:  # flat: the keys beside the name are the arguments (cloudflare/ai#560, #574)
            arguments = {
                k: v for k, v in spec.items() if k != "name" and (k, v) != ("type", "function")
            }
        call = _fitting({"name": name, "arguments": arguments}, schemas)
        if call is not None:
            return call
    if forced_name is None:
        return None
    # The forced tool's bare arguments (whose own "name" may be a tool's name) — only if they
    # fit its schema: a leaked harmony channel ({"name": "analysis"}) or a call of an unknown
    # tool is not its call.
    return _fitting({"name": forced_name, "arguments": dict(item)}, schemas)


def _fitting(raw: Mapping[str, Any], schemas: Mapping[str, Mapping[str, Any]]) -> ToolCall | None:
    call = tool_call_from_wire(raw, schemas)
    if call is None or not call.is_valid or not arguments_fit(call.arguments, schemas[call.name]):
        return None
    return call


def _forced_name(forced: str | bool, schemas: Mapping[str, Mapping[str, Any]]) -> str | None:
    if isinstance(forced, str):
        return forced  # an unbound name fits nothing: tool_call_from_wire marks it invalid
    if forced is True and len(schemas) == 1:
        return next(iter(schemas))  # "required" with one tool bound can only mean that tool
    return None


def salvage_tool_calls(
    text: str,
    schemas: Mapping[str, Mapping[str, Any]],
    *,
    forced: str | bool,
) -> list[ToolCall]:
    """Tool calls a model wrote as JSON text instead of ``tool_calls`` (wire reference
    §3.2.8, §10.5).

    gpt-oss returns a forced call as ``{"name": ..., "arguments": {...}}`` text, as a flat
    ``{"name": ..., "path": ...}`` whose other keys are the arguments, as a list of those, or
    as the bare arguments of the forced tool, with empty ``tool_calls`` (cloudflare/ai#560,
    #574); Llama sometimes uses ``parameters`` instead of ``arguments``. A JSON value is a
    call only if it names a bound tool, or — when one tool was forced — is an object whose
    keys fit that tool's schema; either way its arguments must fit the tool's schema.
    From a list, the items that are calls are taken. Anything else stays text.
    """
    stripped = text.strip()
    fenced = _CODE_FENCE.match(stripped)
    if fenced:
        stripped = fenced.group(1)
    forced_name = _forced_name(forced, schemas)
    try:
        # No mutation of the guard: it only spares parsing prose; a JSON scalar is no call.
        whole = _json.loads(stripped) if stripped[:1] in ("{", "[") else None  # pragma: no mutate
    except ValueError:
        whole = None
    # Unforced, only a whole answer that is JSON counts; a forced answer may wrap the call
    # in prose ("commentary to=functions.get_weather json{...}").
    candidates: Iterable[Any] = (
        [whole] if whole is not None else _json_values(stripped) if forced else ()
    )
    for value in candidates:
        items = value if isinstance(value, list) else [value]
        calls = [c for c in (_salvaged(i, schemas, forced_name) for i in items) if c is not None]
        if calls:
            return calls
    return []
