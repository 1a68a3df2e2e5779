"""Audio: transcripts from the speech-recognition models, and synthesized speech.

The three Whisper models and Deepgram's nova-3 answer in different shapes (wire reference
§8.3): ``whisper``/``whisper-tiny-en`` give ``words`` and a WebVTT string,
``whisper-large-v3-turbo`` adds ``segments`` and ``transcription_info``, nova-3 answers in
Deepgram's ``results.channels[].alternatives[]`` form. :class:`Transcript` reads them all;
segments come from the model's own ``segments`` when it sends them, else from the VTT cues.

Example:
    >>> transcript = client.transcribe("meeting.mp3")
    >>> transcript.text, transcript.segments[0].start, transcript.language
    ('Welcome, everyone.', 0.0, 'en')
"""

from __future__ import annotations

import base64
import binascii
import html
import os
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from workersai._media import MediaData, mime_for_path, read_media, sniff_mime
from workersai.errors import InvalidInputError, UnexpectedResponseError
from workersai.models import get_model_info
from workersai.usage import CostEstimate, run_cost

__all__ = [
    "AudioResult",
    "Segment",
    "Transcript",
    "Word",
    "coerce_audio",
    "parse_vtt",
]


def _list(value: Any) -> list[Any]:
    """``value`` when the answer has a list there (else nothing to iterate)."""
    return value if isinstance(value, list) else []


def _first_mapping(value: Any) -> Mapping[str, Any]:
    """The first element of a list of objects (Deepgram's channels, alternatives), or ``{}``."""
    items = _list(value)
    return items[0] if items and isinstance(items[0], Mapping) else {}


def _float(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    return float(value)


@dataclass(frozen=True, slots=True)
class Word:
    """One recognised word with its start and end in seconds."""

    word: str
    start: float | None = None
    end: float | None = None


@dataclass(frozen=True, slots=True)
class Segment:
    """A stretch of speech (a Whisper segment or a VTT cue), times in seconds."""

    text: str
    start: float | None = None
    end: float | None = None
    words: tuple[Word, ...] = ()


_TIMESTAMP = re.compile(r"(?:(\d+):)?(\d{1,2}):(\d{2})[.,](\d{1,3})")


def _seconds(stamp: str) -> float | None:
    match = _TIMESTAMP.fullmatch(stamp.strip().split(" ", 1)[0])
    if match is None:
        return None
    hours, minutes, seconds, fraction = match.groups()
    return (
        int(hours or 0) * 3600
        + int(minutes) * 60
        + int(seconds)
        + int(fraction.ljust(3, "0")) / 1000
    )


def parse_vtt(vtt: str) -> list[Segment]:
    """The cues of a WebVTT document as segments (header, notes and styles skipped)."""
    segments: list[Segment] = []
    for block in re.split(r"\r?\n\s*\r?\n", vtt.strip()):
        lines = [line.strip() for line in block.splitlines() if line.strip()]
        timing = next((i for i, line in enumerate(lines) if "-->" in line), None)
        if timing is None:
            continue
        start_text, _, end_text = lines[timing].partition("-->")
        text = " ".join(lines[timing + 1 :]).strip()
        if text:
            segments.append(Segment(text, _seconds(start_text), _seconds(end_text)))
    return segments


def _words(raw: Any) -> tuple[Word, ...]:
    words = []
    for item in raw if isinstance(raw, Sequence) and not isinstance(raw, str) else ():
        if not isinstance(item, Mapping):
            continue
        # Deepgram adds punctuation and casing only in `punctuated_word`.
        text = item.get("punctuated_word") or item.get("word")
        if isinstance(text, str):
            words.append(Word(text.strip(), _float(item.get("start")), _float(item.get("end"))))
    return tuple(words)


@dataclass(frozen=True, slots=True)
class Transcript:
    """What a speech-recognition model heard.

    Attributes:
        text: The full transcript.
        words: Words with timings (when the model reports them).
        segments: Timed stretches of text (model segments, else VTT cues).
        vtt: WebVTT subtitles, when the model sends them.
        language: Detected or requested language (turbo, nova-3).
        duration: Audio length in seconds, when reported.
        model: The model id.
        raw: The model's answer, untouched.
    """

    text: str
    words: tuple[Word, ...] = ()
    segments: tuple[Segment, ...] = ()
    vtt: str | None = None
    language: str | None = None
    duration: float | None = None
    model: str | None = None
    raw: Mapping[str, Any] = field(default_factory=dict, repr=False)

    @property
    def cost(self) -> CostEstimate:
        """Estimated cost of the transcription, from the model's price and the audio length."""
        return run_cost(self.model or "", None, self.raw)

    @property
    def word_count(self) -> int:
        count = self.raw.get("word_count")
        if isinstance(count, int) and not isinstance(count, bool):
            return count
        return len(self.words) or len(self.text.split())

    @classmethod
    def from_output(cls, output: Any, model: str) -> Transcript:
        """Parse a Whisper (any size) or Deepgram nova-3 answer.

        Raises:
            UnexpectedResponseError: the answer has no transcript.
        """
        if isinstance(output, Mapping) and isinstance(output.get("results"), Mapping):
            return cls._from_deepgram(output, model)
        if not isinstance(output, Mapping) or not isinstance(output.get("text"), str):
            raise UnexpectedResponseError(
                f"{model} answered without a transcript",
                model=model,
                body=output if not isinstance(output, bytes) else None,
            )
        raw_segments = output.get("segments")
        segments = tuple(
            Segment(
                str(item.get("text", "")).strip(),
                _float(item.get("start")),
                _float(item.get("end")),
                _words(item.get("words")),
            )
            for item in _list(raw_segments)
            if isinstance(item, Mapping)
        )
        vtt = output.get("vtt") if isinstance(output.get("vtt"), str) else None
        if not segments and vtt:
            segments = tuple(parse_vtt(vtt))
        words = _words(output.get("words")) or tuple(w for s in segments for w in s.words)
        info = output.get("transcription_info")
        info = info if isinstance(info, Mapping) else {}
        language = info.get("language")
        return cls(
            text=output["text"].strip(),
            words=words,
            segments=segments,
            vtt=vtt,
            language=language if isinstance(language, str) else None,
            duration=_float(info.get("duration")),
            model=model,
            raw=output,
        )

    @classmethod
    def _from_deepgram(cls, output: Mapping[str, Any], model: str) -> Transcript:
        channel = _first_mapping(output["results"].get("channels"))
        best = _first_mapping(channel.get("alternatives"))
        paragraphs = best.get("paragraphs")
        segments = tuple(
            Segment(
                str(sentence.get("text", "")).strip(),
                _float(sentence.get("start")),
                _float(sentence.get("end")),
            )
            for paragraph in _list(
                paragraphs.get("paragraphs") if isinstance(paragraphs, Mapping) else None
            )
            if isinstance(paragraph, Mapping)
            for sentence in _list(paragraph.get("sentences"))
            if isinstance(sentence, Mapping)
        )
        metadata = output.get("metadata")
        language = channel.get("detected_language")
        return cls(
            text=str(best.get("transcript") or "").strip(),
            words=_words(best.get("words")),
            segments=segments,
            language=language if isinstance(language, str) else None,
            duration=_float(metadata.get("duration")) if isinstance(metadata, Mapping) else None,
            model=model,
            raw=output,
        )

    def metadata(self) -> dict[str, Any]:
        """JSON-ready timings for a document's metadata (used by the framework loaders)."""
        meta: dict[str, Any] = {"model": self.model, "word_count": self.word_count}
        if self.language:
            meta["language"] = self.language
        if self.duration is not None:
            meta["duration"] = self.duration
        if self.segments:
            meta["segments"] = [
                {"start": s.start, "end": s.end, "text": s.text} for s in self.segments
            ]
        if self.words:
            meta["words"] = [{"word": w.word, "start": w.start, "end": w.end} for w in self.words]
        if self.vtt:
            meta["vtt"] = self.vtt
        return meta

    def segment_documents(self) -> list[tuple[str, dict[str, Any]]]:
        """``(text, metadata)`` per segment, for loaders that split a transcript into
        documents (one for the whole transcript, with :meth:`metadata`, when it has no
        segments).

        Each segment's metadata holds ``model``, ``language`` (when known), its index as
        ``segment``, ``start``/``end`` in seconds and its ``words``.
        """
        if not self.segments:
            return [(self.text, self.metadata())]
        common: dict[str, Any] = {"model": self.model}
        if self.language:
            common["language"] = self.language
        return [
            (
                segment.text,
                {
                    **common,
                    "segment": index,
                    "start": segment.start,
                    "end": segment.end,
                    "words": [
                        {"word": w.word, "start": w.start, "end": w.end} for w in segment.words
                    ],
                },
            )
            for index, segment in enumerate(self.segments)
        ]

    def __str__(self) -> str:
        return self.text


@dataclass(frozen=True, slots=True, repr=False)
class AudioResult(MediaData):
    """Synthesized speech: bytes plus their media type (read from the bytes).

    Plays inline in Jupyter (``_repr_html_`` renders an ``<audio>`` element).

    Example:
        >>> speech = client.speak("Hello from Workers AI")
        >>> speech.mime_type, speech.save("hello")
        ('audio/mpeg', PosixPath('hello.mp3'))
    """

    @classmethod
    def from_output(cls, output: Any, model: str) -> AudioResult:
        """Parse a text-to-speech answer: raw audio bytes or ``{"audio": base64}``."""
        data: bytes | None = None
        encoded = output.get("audio") if isinstance(output, Mapping) else output
        if isinstance(encoded, (bytes, bytearray)):
            data = bytes(encoded)
        elif isinstance(encoded, str):
            try:
                data = base64.b64decode(encoded, validate=True)
            except (binascii.Error, ValueError):
                data = None
        if not data:
            shape = sorted(output) if isinstance(output, Mapping) else type(output).__name__
            raise UnexpectedResponseError(
                f"{model} answered without audio (got {shape})",
                model=model,
                body=output if isinstance(output, Mapping) else None,
            )
        mime = sniff_mime(data)
        if mime is None or not mime.startswith("audio/"):
            # Headerless encodings (aura with container "none"): trust the catalog.
            info = get_model_info(model)
            declared = info.output_content_type if info else None
            mime = declared if declared and declared.startswith("audio/") else "audio/mpeg"
        return cls(data, mime, model)

    def save(self, path: str | os.PathLike[str]) -> Path:
        """Write the audio; a missing suffix is added (``.mp3`` for MPEG audio)."""
        return self._write(path)

    def __repr__(self) -> str:
        return (
            f"AudioResult(mime_type={self.mime_type!r}, bytes={len(self.data)}, "
            f"model={self.model!r})"
        )

    def _repr_html_(self) -> str:
        return f'<audio controls src="{html.escape(self.data_uri)}"></audio>'


def coerce_audio(value: Any) -> tuple[bytes, str | None]:
    """``(bytes, media type)`` from bytes, a path, a data URI or a binary file object.

    The type comes from the bytes' header, else from the file name; ``None`` when neither
    says.

    Raises:
        InvalidInputError: unreadable input, or an image passed as audio.
    """
    data = read_media(value, "audio")
    mime = sniff_mime(data)
    if mime is not None and not mime.startswith("audio/"):
        raise InvalidInputError(f"audio input is {mime}, not audio", field="audio")
    if (
        mime is None
        and isinstance(value, (str, os.PathLike))
        and not str(value).startswith("data:")
    ):
        mime = mime_for_path(value)
    return data, mime
