"""The job's input: JSON Lines records, read twice and never held whole.

A record is an object with ``id`` (string or number; the line number when absent) and either
``prompt`` (a string) or ``messages`` (OpenAI-form list), and optionally ``model``,
``temperature``, ``max_tokens`` and ``system``. Every other field is carried to the output
unchanged.

The first pass (:func:`survey`) reads every line before any request: it counts the records,
reports malformed lines with their numbers (not JSON, no prompt, wrong types, duplicate ids,
parameters a model's schema refuses), and collects the models — so an unknown model fails
the run before the first request, not once per record. The second pass (:meth:`Survey.records`)
reads the lines again and yields the records still to do. Input that cannot be read twice (stdin,
an iterator of dicts) is first copied to a temporary file.
"""

from __future__ import annotations

import math
import os
import tempfile
from collections.abc import Iterable, Iterator, Mapping, Set
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from workersai import _json
from workersai._chat import build_chat_request
from workersai._messages import prepare_messages
from workersai.errors import InvalidInputError
from workersai.models import get_catalog, get_model_info, resolve_model

__all__ = ["BadLine", "JobOptions", "Record", "Survey", "open_records", "record_key", "survey"]

#: Fields of a record the job reads; every other field is carried to the output.
OPTION_FIELDS = frozenset(
    {"id", "prompt", "messages", "model", "temperature", "max_tokens", "system"}
)
#: Output fields a carried input field would collide with.
RESERVED_FIELDS = frozenset(
    {
        "response",
        "reasoning",
        "tool_calls",
        "usage",
        "finish_reason",
        "cost_usd",
        "latency_ms",
        "error",
    }
)
_PROBE = [{"role": "user", "content": "."}]


def record_key(record_id: Any) -> str:
    """The id as it is compared between input and output: its JSON text (``"7"`` and ``7``
    are different ids)."""
    return _json.dumps_str(record_id)


@dataclass(frozen=True, slots=True)
class JobOptions:
    """What applies to every record unless the record says otherwise."""

    model: str
    fallback_models: tuple[str, ...] = ()
    system: str | None = None
    temperature: float | None = None
    max_tokens: int | None = None


@dataclass(slots=True)
class Record:
    """One record ready to send."""

    line: int
    id: Any
    key: str
    model: str
    messages: list[dict[str, Any]]
    params: dict[str, Any]
    carried: dict[str, Any]
    from_prompt: bool = False  # built from a text prompt, not given messages


@dataclass(frozen=True, slots=True)
class BadLine:
    """A malformed input line, skipped."""

    line: int
    problem: str

    def __str__(self) -> str:
        return f"line {self.line}: {self.problem}"


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def parse_record(line: int, text: str, options: JobOptions) -> Record | BadLine:
    """One input line as a :class:`Record`, or what is wrong with it. Models are not resolved
    here (see :func:`survey`)."""
    try:
        data = _json.loads(text)
    except ValueError:
        return BadLine(line, "not JSON")
    if not isinstance(data, dict):
        return BadLine(line, f"a record must be a JSON object, not {type(data).__name__}")
    record_id = data.get("id", line)
    if isinstance(record_id, str):
        if not record_id.strip():
            return BadLine(line, "id is an empty string")
    elif not _is_number(record_id):
        return BadLine(line, f"id must be a string or a number, not {_json.dumps_str(record_id)}")
    prompt, messages = data.get("prompt"), data.get("messages")
    if prompt is not None and messages is not None:
        return BadLine(line, "has both prompt and messages; give one")
    if messages is None:
        if prompt is None:
            return BadLine(line, "has no prompt (a string) or messages (a list)")
        if not isinstance(prompt, str) or not prompt.strip():
            return BadLine(line, "prompt must be a non-empty string")
        messages = [{"role": "user", "content": prompt}]
    elif not isinstance(messages, list) or not messages:
        return BadLine(line, "messages must be a non-empty list of {role, content} objects")
    model = data.get("model", options.model)
    if not isinstance(model, str) or not model.strip():
        return BadLine(line, "model must be a model id string")
    params: dict[str, Any] = {}
    temperature = data.get("temperature", options.temperature)
    if temperature is not None:
        if not _is_number(temperature):
            return BadLine(line, "temperature must be a number")
        params["temperature"] = temperature
    max_tokens = data.get("max_tokens", options.max_tokens)
    if max_tokens is not None:
        if isinstance(max_tokens, bool) or not isinstance(max_tokens, int) or max_tokens < 1:
            return BadLine(line, "max_tokens must be a positive whole number")
        params["max_tokens"] = max_tokens
    system = data.get("system")
    if system is not None and not isinstance(system, str):
        return BadLine(line, "system must be a string")
    has_system = any(isinstance(m, Mapping) and m.get("role") == "system" for m in messages)
    if system is not None and has_system:
        return BadLine(line, "has a system field and a system message; give one")
    if system is None and not has_system:
        system = options.system
    if system:
        messages = [{"role": "system", "content": system}, *messages]
    carried = {k: v for k, v in data.items() if k not in OPTION_FIELDS}
    clash = sorted(RESERVED_FIELDS & set(carried))
    if clash:
        return BadLine(
            line,
            f"field {clash[0]!r} is where the output puts the answer; rename it in the input",
        )
    from_prompt = prompt is not None
    return Record(
        line, record_id, record_key(record_id), model, messages, params, carried, from_prompt
    )


@dataclass
class Survey:
    """What the first pass found; :meth:`records` is the second pass."""

    path: Path
    options: JobOptions
    records: int = 0
    bad: list[BadLine] = field(default_factory=list)
    # model as written → the first line using it; resolved ids → their own first line
    models: dict[str, int] = field(default_factory=dict)
    # key of every valid record → its line (ids are the only thing kept per record)
    first_lines: dict[str, int] = field(default_factory=dict)
    _bad_lines: set[int] = field(default_factory=set, repr=False)
    _resolved: dict[str, str] = field(default_factory=dict, repr=False)

    def unknown_models(self) -> list[tuple[str, int]]:
        """Model ids (as resolved) the catalog does not know, with their first line."""
        catalog = get_catalog()
        return sorted(
            ((model, line) for model, line in self.models.items() if model not in catalog),
            key=lambda item: item[1],
        )

    def iter_records(self, skip: Set[str] = frozenset()) -> Iterator[Record]:
        """The valid records whose keys are not in ``skip``, read again from the file."""
        with self.path.open(encoding="utf-8", errors="replace") as source:
            for number, text in enumerate(source, 1):
                if not text.strip() or number in self._bad_lines:
                    continue
                record = parse_record(number, text, self.options)
                if isinstance(record, BadLine) or record.key in skip:
                    continue
                record.model = self._resolved.get(record.model) or resolve_model(record.model)
                yield record

    def keys(self) -> Iterator[str]:
        """The keys of every valid record (without building its request)."""
        for record in self.iter_records():
            yield record.key


def survey(path: Path, options: JobOptions) -> Survey:
    """The first pass over ``path`` (see the module docstring).

    Raises:
        InvalidInputError: a bare model name that matches no model, naming the lines and
            the closest model ids.
    """
    found = Survey(path, options)
    first_line = found.first_lines
    checked: dict[tuple[Any, ...], str | None] = {}
    unknown: dict[str, tuple[int, InvalidInputError]] = {}
    with path.open(encoding="utf-8", errors="replace") as source:
        for number, text in enumerate(source, 1):
            if not text.strip():
                continue
            record = parse_record(number, text, options)
            if isinstance(record, Record):
                problem = _model_problem(record, found, checked, unknown)
                if problem is None and record.key in first_line:
                    problem = f"duplicate id {record.key} (first on line {first_line[record.key]})"
                if problem is None:
                    first_line[record.key] = number
                    found.records += 1
                    continue
                record = BadLine(number, problem)
            found.bad.append(record)
            found._bad_lines.add(number)
    if unknown:
        raise _unknown_models(unknown)
    return found


def _model_problem(
    record: Record,
    found: Survey,
    checked: dict[tuple[Any, ...], str | None],
    unknown: dict[str, tuple[int, InvalidInputError]],
) -> str | None:
    """Why ``record`` cannot be sent to its model (its parameters or messages), if it
    cannot; unknown bare names are collected in ``unknown``."""
    name = record.model
    resolved = found._resolved.get(name)
    if resolved is None:
        try:
            resolved = resolve_model(name)
        except InvalidInputError as exc:
            unknown.setdefault(name, (record.line, exc))
            return None
        found._resolved[name] = resolved
        found.models.setdefault(resolved, record.line)
    # The model's schema checks the parameters once per combination, not once per record.
    combination = (resolved, *sorted(record.params.items()))
    if combination not in checked:
        try:
            build_chat_request(resolved, _PROBE, params=record.params)
            checked[combination] = None
        except InvalidInputError as exc:
            checked[combination] = exc.message
    if checked[combination] is not None:
        return checked[combination]
    if record.from_prompt:
        return None  # a text prompt (and system text) fits every text-generation model
    try:
        prepare_messages(record.messages, get_model_info(resolved))
    except InvalidInputError as exc:
        return exc.message
    return None


def _unknown_models(unknown: dict[str, tuple[int, InvalidInputError]]) -> InvalidInputError:
    lines = []
    for name, (line, error) in sorted(unknown.items(), key=lambda item: item[1][0]):
        hint = f" {error.hint}" if error.hint else ""
        lines.append(f"{name!r} (line {line}).{hint}")
    return InvalidInputError(
        "Unknown model " + " ".join(lines),
        field="model",
        hint="Use a full model id (workersai models --task text-generation lists them); "
        "nothing was sent.",
    )


@contextmanager
def open_records(
    source: str | os.PathLike[str] | IO[str] | Iterable[Mapping[str, Any]],
) -> Iterator[Path]:
    """A file the job can read twice: ``source`` itself when it is a path; otherwise a
    temporary copy (of a text stream such as stdin, or of an iterable of records, one JSON
    line each), deleted afterwards."""
    if isinstance(source, (str, os.PathLike)):
        path = Path(source)
        if not path.is_file():
            raise InvalidInputError(f"No such input file: {path}", field="records")
        yield path
        return
    if isinstance(source, Mapping):
        raise InvalidInputError(
            "records must be a path, a text stream or an iterable of records, not one record",
            field="records",
        )
    descriptor, name = tempfile.mkstemp(prefix="workersai-records-", suffix=".jsonl")
    try:
        with os.fdopen(descriptor, "w", encoding="utf-8") as spool:
            if hasattr(source, "read"):
                for text in source:
                    if isinstance(text, bytes):
                        text = text.decode("utf-8", "replace")
                    spool.write(str(text) if str(text).endswith("\n") else f"{text}\n")
            else:
                for item in source:
                    if isinstance(item, Mapping):
                        spool.write(_json.dumps_str(dict(item)) + "\n")
                    else:  # kept as a malformed line, reported with its number
                        spool.write(_json.dumps_str(repr(item)) + "\n")
        yield Path(name)
    finally:
        os.unlink(name)
