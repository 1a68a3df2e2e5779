"""Outgoing chat messages: what Workers AI accepts, built from OpenAI-form messages.

Rules (wire reference §2.3, §3.1, §8.2):

* ``content: null`` is rejected — tool-call-only assistant turns send ``""``.
* Text-only models reject content-part arrays (5006 "'array' not in 'string'"): text parts
  are joined into a string; image parts need a vision model.
* Images must be ``data:image/...;base64,`` URIs (HTTP URLs are not accepted).
* System messages are merged into one leading system message (several models reject a
  system message anywhere but first).
* Tool-call ids go back exactly as the model sent them; reasoning is never sent back.
* Tool-call arguments go back as JSON object text ("must be valid JSON", §2.3):
  arguments the model sent unparseable become ``{}``.

LoRA adapters and ``raw=True`` use the ``prompt`` branch: :func:`render_prompt` turns the
messages into one prompt string, using the model family's chat template when ``raw``.
"""

from __future__ import annotations

import base64
import binascii
import logging
import re
from collections.abc import Mapping, Sequence
from typing import Any

from workersai import _json
from workersai._media import sniff_mime
from workersai._tools import parse_arguments, wire_tool_call_id
from workersai.errors import InvalidInputError
from workersai.models import ModelInfo

logger = logging.getLogger(__name__)

_DATA_URI = re.compile(r"^data:image/[A-Za-z0-9.+-]+;base64,", re.ASCII)
_SYSTEM_ROLES = frozenset({"system", "developer"})


def _image_url(part: Mapping[str, Any]) -> str | None:
    image = part.get("image_url")
    if isinstance(image, Mapping):
        url = image.get("url")
        return url if isinstance(url, str) else None
    return image if isinstance(image, str) else None


def _head_bytes(encoded: str) -> bytes:
    """The first bytes of base64 text: enough for every signature :func:`sniff_mime` knows."""
    head = encoded[:48]  # 36 bytes
    try:
        return base64.b64decode(head + "=" * (-len(head) % 4), validate=True)
    except (binascii.Error, ValueError):
        return b""


def _check_image_data(url: str, where: str) -> None:
    """The data URI holds an image (by its magic number), not text or a PDF labelled image/*."""
    mime = sniff_mime(_head_bytes(url.partition(",")[2]))
    if mime is None or not mime.startswith("image/"):
        raise InvalidInputError(
            f"{where}: the data URI does not hold a PNG, JPEG, WEBP, GIF or BMP image",
            field=where,
        )


def image_data_uri(
    data: str | bytes | bytearray | memoryview,
    mime_type: str | None = None,
    *,
    where: str = "content",
    hint: str | None = None,
) -> str:
    """A ``data:image/...;base64,`` URI from raw bytes or base64 text (a data URI as is).

    The type is ``mime_type`` when given, else read from the bytes' magic number; what the
    URI really holds is checked again when the message is prepared.

    Raises:
        InvalidInputError: the type is neither given nor recognisable as an image.
    """
    if isinstance(data, str) and data.startswith("data:"):
        return data
    if isinstance(data, (bytes, bytearray, memoryview)):
        raw = bytes(data)
        encoded = base64.b64encode(raw).decode("ascii")
    else:
        encoded = data.strip()
        raw = _head_bytes(encoded)
    mime = mime_type or sniff_mime(raw)
    if not mime or not mime.startswith("image/"):
        got = f" (got {mime!r})" if mime else ""
        raise InvalidInputError(
            f"Cannot tell the image type{got}: pass mime_type (e.g. 'image/png') with the image.",
            field=where,
            hint=hint,
        )
    return f"data:{mime};base64,{encoded}"


def _content(content: Any, info: ModelInfo | None, where: str) -> str | list[dict[str, Any]]:
    if content is None:
        return ""
    if isinstance(content, str):
        return content
    if isinstance(content, (bytes, bytearray, memoryview)):
        raise InvalidInputError(
            f"{where}.content is bytes: decode text to str first (images go in image_url parts)",
            field=f"{where}.content",
        )
    if not isinstance(content, Sequence):
        raise InvalidInputError(f"{where}.content must be a string or a list of parts", field=where)
    texts: list[str] = []
    parts: list[dict[str, Any]] = []
    has_image = False
    for index, part in enumerate(content):
        if isinstance(part, str):
            texts.append(part)
            parts.append({"type": "text", "text": part})
            continue
        kind = part.get("type") if isinstance(part, Mapping) else None
        if kind == "text":
            text = str(part.get("text", ""))
            texts.append(text)
            parts.append({"type": "text", "text": text})
        elif kind == "image_url":
            url = _image_url(part)
            if not url or not _DATA_URI.match(url):
                raise InvalidInputError(
                    f"{where}.content[{index}]: Workers AI accepts images only as base64 data "
                    "URIs (data:image/png;base64,...)",
                    field=f"{where}.content.{index}",
                    hint="HTTP(S) image URLs are fetched by the chat methods; pass bytes or a "
                    "data URI otherwise.",
                )
            _check_image_data(url, f"{where}.content[{index}]")
            has_image = True
            parts.append({"type": "image_url", "image_url": {"url": url}})
        else:
            raise InvalidInputError(
                f"{where}.content[{index}]: unsupported content part type {kind!r} "
                "(Workers AI chat accepts text and images)",
                field=f"{where}.content.{index}",
            )
    if not has_image:
        return "\n".join(texts)
    if info is not None and not info.vision:
        raise InvalidInputError(
            f"{info.id} does not accept images.",
            field=f"{where}.content",
            hint="Use a vision model such as @cf/meta/llama-4-scout-17b-16e-instruct or "
            "@cf/meta/llama-3.2-11b-vision-instruct.",
        )
    return parts


def _text_of(content: Any) -> str:
    if content is None:
        return ""
    if isinstance(content, str):
        return content
    if isinstance(content, Sequence):
        return "\n".join(
            p if isinstance(p, str) else str(p.get("text", ""))
            for p in content
            if isinstance(p, str) or (isinstance(p, Mapping) and p.get("type") == "text")
        )
    return str(content)


def _wire_tool_call(call: Mapping[str, Any], where: str) -> dict[str, Any]:
    if not isinstance(call, Mapping):
        raise InvalidInputError(
            f"{where} must be a tool call mapping, got {type(call).__name__}", field=where
        )
    function = call.get("function")
    if isinstance(function, Mapping):
        name, arguments = function.get("name"), function.get("arguments")
    else:  # LangChain-style {"id", "name", "args"}
        name, arguments = call.get("name"), call.get("args", call.get("arguments"))
    if not isinstance(name, str) or not name:
        raise InvalidInputError(f"{where}: tool call without a name", field=where)
    call_id = call.get("id")
    return {
        "id": wire_tool_call_id(call_id) if isinstance(call_id, str) else call_id,
        "type": "function",
        "function": {"name": name, "arguments": _wire_arguments(arguments, where)},
    }


def _wire_arguments(arguments: Any, where: str) -> str:
    """A call's arguments as the JSON object text Workers AI insists on in history.

    Models reject anything else ("Assistant tool call function.arguments must be valid
    JSON.", §2.3), and a history turn is no place to fail: arguments the model itself sent
    unparseable (an invalid tool call being answered) go back as ``{}``.
    """
    if isinstance(arguments, Mapping):
        return _json.dumps_str(arguments)
    if isinstance(arguments, str):
        try:
            if isinstance(_json.loads(arguments), dict):
                return arguments  # as the model sent it, byte for byte
        except ValueError:
            pass
    parsed, _, error = parse_arguments(arguments)
    if error is not None:
        logger.debug("%s: arguments are not a JSON object (%s); sending {}", where, error)
    return _json.dumps_str(parsed)


def check_messages(messages: Any) -> None:
    """A non-empty list of mappings, each with a role (raises :class:`InvalidInputError`)."""
    if isinstance(messages, (str, bytes, Mapping)) or not isinstance(messages, Sequence):
        raise InvalidInputError(
            "messages must be a list of {'role', 'content'} mappings, "
            f"got {type(messages).__name__}",
            field="messages",
        )
    if not messages:
        raise InvalidInputError("messages must not be empty", field="messages")
    for index, message in enumerate(messages):
        where = f"messages[{index}]"
        if not isinstance(message, Mapping):
            raise InvalidInputError(
                f"{where} must be a mapping, got {type(message).__name__}",
                field=f"messages.{index}",
            )
        role = message.get("role")
        if not isinstance(role, str) or not role:
            raise InvalidInputError(f"{where} has no role", field=f"messages.{index}.role")


def prepare_messages(
    messages: Sequence[Mapping[str, Any]], info: ModelInfo | None
) -> list[dict[str, Any]]:
    """Wire-ready copies of OpenAI-form ``messages`` for ``info``'s model."""
    check_messages(messages)
    system: list[str] = []
    out: list[dict[str, Any]] = []
    for index, message in enumerate(messages):
        where = f"messages[{index}]"
        role = message["role"]
        if role in _SYSTEM_ROLES:
            text = _text_of(message.get("content"))
            if text:
                system.append(text)
            continue
        wire: dict[str, Any] = {
            "role": role,
            "content": _content(message.get("content"), info, where),
        }
        tool_calls = message.get("tool_calls")
        if role == "assistant" and tool_calls:
            if isinstance(tool_calls, (str, Mapping)) or not isinstance(tool_calls, Sequence):
                raise InvalidInputError(
                    f"{where}.tool_calls must be a list, got {type(tool_calls).__name__}",
                    field=f"messages.{index}.tool_calls",
                )
            wire["tool_calls"] = [
                _wire_tool_call(c, f"{where}.tool_calls[{i}]") for i, c in enumerate(tool_calls)
            ]
        if role == "tool":
            call_id = message.get("tool_call_id")
            if not isinstance(call_id, str) or not call_id:
                raise InvalidInputError(
                    f"{where}: a tool message needs the tool_call_id it answers",
                    field=f"messages.{index}.tool_call_id",
                )
            wire["tool_call_id"] = wire_tool_call_id(call_id)
            if not isinstance(wire["content"], str):
                wire["content"] = _text_of(wire["content"])
        name = message.get("name")
        if isinstance(name, str) and name:
            wire["name"] = name
        out.append(wire)
    if system:
        out.insert(0, {"role": "system", "content": "\n\n".join(system)})
    return out


# --------------------------------------------------------------------------------------
# Prompt rendering for the `prompt` branch (LoRA, raw)
# --------------------------------------------------------------------------------------


def _family(model: str) -> str:
    name = model.lower()
    if "llama-3" in name or "llama-4" in name or "llama-guard-3" in name:
        return "llama3"
    if "mistral" in name and "hermes" not in name:
        return "mistral"
    if "llama-2" in name:
        return "llama2"
    if "gemma" in name:
        return "gemma"
    if "qwen" in name or "hermes" in name or "openhermes" in name:
        return "chatml"
    return "plain"


def _turns(messages: Sequence[Mapping[str, Any]]) -> tuple[str, list[tuple[str, str]]]:
    system = "\n\n".join(
        _text_of(m.get("content")) for m in messages if m.get("role") in _SYSTEM_ROLES
    )
    turns = [
        (str(m.get("role")), _text_of(m.get("content")))
        for m in messages
        if m.get("role") not in _SYSTEM_ROLES
    ]
    return system, turns


def render_prompt(messages: Sequence[Mapping[str, Any]], model: str, *, raw: bool) -> str:
    """One prompt string for the ``prompt`` branch of text generation.

    With ``raw=False`` Workers AI applies the model's template itself, so a lone user turn is
    sent as is and a conversation as a plain transcript. With ``raw=True`` the model's own
    chat template (Llama 3, Llama 2/Mistral ``[INST]``, Gemma, ChatML) is applied here.
    """
    check_messages(messages)
    system, turns = _turns(messages)
    if not turns:
        raise InvalidInputError("messages must contain a non-system message", field="messages")
    if not raw:
        if len(turns) == 1 and turns[0][0] == "user":
            return f"{system}\n\n{turns[0][1]}" if system else turns[0][1]
        lines = [f"System: {system}"] if system else []
        lines += [f"{role.capitalize()}: {text}" for role, text in turns]
        return "\n\n".join(lines) + "\n\nAssistant:"
    family = _family(model)
    if family == "llama3":
        head = "<|begin_of_text|>"
        if system:
            head += f"<|start_header_id|>system<|end_header_id|>\n\n{system}<|eot_id|>"
        body = "".join(
            f"<|start_header_id|>{role}<|end_header_id|>\n\n{text}<|eot_id|>"
            for role, text in turns
        )
        return head + body + "<|start_header_id|>assistant<|end_header_id|>\n\n"
    if family == "chatml":
        rendered = f"<|im_start|>system\n{system}<|im_end|>\n" if system else ""
        rendered += "".join(f"<|im_start|>{role}\n{text}<|im_end|>\n" for role, text in turns)
        return rendered + "<|im_start|>assistant\n"
    if family == "gemma":
        rendered = ""
        for index, (role, text) in enumerate(turns):
            speaker = "model" if role == "assistant" else "user"
            if index == 0 and system:
                text = f"{system}\n\n{text}"
            rendered += f"<start_of_turn>{speaker}\n{text}<end_of_turn>\n"
        return rendered + "<start_of_turn>model\n"
    if family in ("llama2", "mistral"):
        rendered = ""
        first_user = True
        for role, text in turns:
            if role == "assistant":
                rendered += f" {text} </s>"
                continue
            if first_user and system:
                text = (
                    f"<<SYS>>\n{system}\n<</SYS>>\n\n{text}"
                    if family == "llama2"
                    else f"{system}\n\n{text}"
                )
            first_user = False
            rendered += f"<s>[INST] {text} [/INST]"
        return rendered
    lines = [system] if system else []
    lines += [f"{role}: {text}" for role, text in turns]
    return "\n".join(lines) + "\nassistant:"
