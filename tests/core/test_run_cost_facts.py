"""What ``run()``'s cost is charged by, read off the request and its answer: image tiles and
steps, FLUX.2 input images, audio seconds, characters (wire reference §1.4)."""

from __future__ import annotations

import base64
from typing import Any

import pytest

from workersai import Multipart
from workersai.models import ModelCatalog, ModelInfo, ModelPrice, ParamRange
from workersai.usage import UsageTracker, record_run, run_cost, track_usage

TILE, STEP = 0.01, 0.001  # USD per 512×512 output tile, per step
PER_MINUTE = 0.006
PER_CHARACTER = 0.00003
IMAGE = "@cf/test/image"  # tile + step, documented defaults 1024×768, 25 steps
PLAIN_IMAGE = "@cf/test/plain-image"  # tile + step, no documented defaults
STEPS_IMAGE = "@cf/test/steps-image"  # its schema names the field `steps` (FLUX.2 style)
EDIT = "@cf/test/edit"  # FLUX.2-like: per output tile and step, per input tile and step
SPEECH = "@cf/test/speech"
TTS = "@cf/test/tts"
CHAT = "@cf/test/chat"


def _info(model_id: str, task: str, *prices: tuple[str, float], **params: ParamRange) -> ModelInfo:
    return ModelInfo(
        id=model_id,
        task=task,
        price=tuple(ModelPrice(unit, usd) for unit, usd in prices),
        params=params,
    )


IMAGE_PRICES = (("per 512 by 512 tile", TILE), ("per step", STEP))


@pytest.fixture(autouse=True)
def catalog(monkeypatch: pytest.MonkeyPatch) -> ModelCatalog:
    from workersai import models

    test_catalog = ModelCatalog(
        [
            _info(
                IMAGE,
                "Text-to-Image",
                *IMAGE_PRICES,
                width=ParamRange("integer", default=1024),
                height=ParamRange("integer", default=768),
                num_steps=ParamRange("integer", default=25),
                steps=ParamRange("integer", default=99),  # num_steps wins: it comes first
            ),
            _info(PLAIN_IMAGE, "text-to-image", *IMAGE_PRICES),
            _info(
                STEPS_IMAGE,
                "Text-to-Image",
                *IMAGE_PRICES,
                num_steps=ParamRange("integer"),  # documented without a default
                steps=ParamRange("integer", default=4),
            ),
            _info(
                EDIT,
                "Text-to-Image",
                ("per output 512x512 tile, per step", TILE),
                ("per input 512x512 tile, per step", STEP),
            ),
            _info(SPEECH, "Automatic Speech Recognition", ("per audio minute", PER_MINUTE)),
            _info(TTS, "Text-to-Speech", ("per 1k characters", PER_CHARACTER * 1000)),
            _info(
                CHAT, "Text Generation", ("per M input tokens", 1.0), ("per inference request", 0.5)
            ),
        ],
        as_of="2026-05-01",
    )
    monkeypatch.setattr(models, "_catalog", test_catalog)
    return test_catalog


def _png(width: int, height: int) -> bytes:
    """A PNG header is all the size reader needs (wire reference §7: images come as PNG)."""
    return (
        b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR"
        + width.to_bytes(4, "big")
        + height.to_bytes(4, "big")
        + b"\x08\x02\x00\x00\x00"
    )


def _b64_png(width: int, height: int) -> dict[str, str]:
    return {"image": base64.b64encode(_png(width, height)).decode("ascii")}


def _image_cost(tiles: int, steps: int) -> float:
    return tiles * TILE + steps * STEP


# -- text-to-image: output tiles and steps ---------------------------------------------------


@pytest.mark.parametrize(
    ("model", "inputs", "output", "usd"),
    [
        # the image's real size wins over what was asked for
        pytest.param(
            IMAGE,
            {"width": 2048, "height": 2048},
            _b64_png(512, 512),
            _image_cost(1, 25),
            id="real size of a base64 answer",
        ),
        pytest.param(
            IMAGE, {"num_steps": 4}, _png(1024, 1024), _image_cost(4, 4), id="raw PNG answer"
        ),
        pytest.param(
            IMAGE, {"num_steps": 4}, bytearray(_png(1024, 1024)), _image_cost(4, 4), id="bytearray"
        ),
        pytest.param(
            IMAGE,
            {"num_steps": 4},
            _b64_png(1025, 512),
            _image_cost(3, 4),
            id="1025 px take a third tile",
        ),
        pytest.param(
            IMAGE, {"num_steps": 4}, _b64_png(512, 513), _image_cost(2, 4), id="513 px take two"
        ),
        # unreadable answers: what was asked for, then the documented default, then 1024
        pytest.param(
            IMAGE,
            {"width": 1536, "height": 512, "num_steps": 10},
            {"image": "not base64!"},
            _image_cost(3, 10),
            id="asked size",
        ),
        pytest.param(
            IMAGE,
            {"num_steps": 10},
            {"image": "not base64!"},
            _image_cost(2 * 2, 10),
            id="documented default size (1024x768)",
        ),
        pytest.param(
            IMAGE,
            {},
            {"image": "not base64!"},
            _image_cost(2 * 2, 25),
            id="documented default steps",
        ),
        pytest.param(
            PLAIN_IMAGE, {"num_steps": 1}, {}, _image_cost(2 * 2, 1), id="1024x1024 by default"
        ),
        pytest.param(
            PLAIN_IMAGE,
            {"width": 512, "num_steps": 1},
            {},
            _image_cost(1 * 2, 1),
            id="width asked, height by default",
        ),
        pytest.param(
            PLAIN_IMAGE,
            {"height": 512, "num_steps": 1},
            {},
            _image_cost(2 * 1, 1),
            id="height asked, width by default",
        ),
        pytest.param(
            PLAIN_IMAGE,
            {"width": 0, "height": 0, "num_steps": 1},
            {},
            _image_cost(4, 1),
            id="a zero size is no size",
        ),
        pytest.param(
            PLAIN_IMAGE,
            {"width": 512, "height": 512, "num_steps": 1},
            _b64_png(0, 0),
            _image_cost(1, 1),
            id="a header saying 0x0 is unreadable",
        ),
        pytest.param(
            PLAIN_IMAGE, {"num_steps": 1}, _b64_png(1, 1), _image_cost(1, 1), id="1x1 is a tile"
        ),
        pytest.param(
            PLAIN_IMAGE,
            {"width": 512, "height": 512, "num_steps": 1},
            _b64_png(512, 0),
            _image_cost(1, 1),
            id="a header with height 0 is unreadable",
        ),
        # steps: either spelling, documented default of either, rounded
        pytest.param(
            PLAIN_IMAGE, {"steps": 8}, _png(512, 512), _image_cost(1, 8), id="`steps` spelling"
        ),
        pytest.param(
            IMAGE,
            {"steps": 8},
            _png(512, 512),
            _image_cost(1, 8),
            id="`steps` given beats the default of `num_steps`",
        ),
        pytest.param(
            STEPS_IMAGE,
            {},
            _png(512, 512),
            _image_cost(1, 4),
            id="default of the second spelling",
        ),
        pytest.param(
            PLAIN_IMAGE, {"num_steps": 7.6}, _png(512, 512), _image_cost(1, 8), id="rounded"
        ),
        pytest.param(IMAGE, {"num_steps": "0"}, _png(512, 512), _image_cost(1, 0), id="zero steps"),
        # form fields are strings (FLUX.2 takes multipart forms)
        pytest.param(
            PLAIN_IMAGE,
            Multipart({"prompt": "x", "width": "512", "height": "1024", "steps": "3"}),
            {},
            _image_cost(2, 3),
            id="form fields",
        ),
        pytest.param(
            PLAIN_IMAGE,
            {"width": b"512", "height": b"512", "num_steps": b"2"},
            {},
            _image_cost(1, 2),
            id="bytes fields",
        ),
        pytest.param(
            PLAIN_IMAGE,
            {"width": " 512 ", "height": "5.12e2", "num_steps": "2"},
            {},
            _image_cost(1, 2),
            id="float syntax",
        ),
    ],
)
def test_images_are_charged_by_tiles_and_steps(
    model: str, inputs: Any, output: Any, usd: float
) -> None:
    cost = run_cost(model, inputs, output)
    assert cost.reason is None
    assert cost.usd == pytest.approx(usd, rel=1e-12, abs=0)


@pytest.mark.parametrize(
    "bad",
    [
        pytest.param(True, id="a boolean"),
        pytest.param("wide", id="a word"),
        pytest.param(b"\xff\xfe", id="undecodable bytes"),
        pytest.param(-512, id="negative"),
        pytest.param("-512", id="negative text"),
        pytest.param(float("inf"), id="infinite"),
        pytest.param("nan", id="nan"),
        pytest.param([512], id="a list"),
        pytest.param(None, id="null"),
    ],
)
def test_a_size_that_is_not_a_size_falls_back_to_the_default(bad: Any) -> None:
    # width falls back to IMAGE's documented 1024 (2 tiles); height 512 asked (1 tile)
    inputs = {"width": bad, "height": 512, "num_steps": bad}
    assert run_cost(IMAGE, inputs, {}).usd == pytest.approx(_image_cost(2, 25))


def test_no_steps_anywhere_make_a_stepped_price_unknown() -> None:
    cost = run_cost(PLAIN_IMAGE, {"width": 512, "height": 512}, _png(512, 512))
    assert (cost.usd, cost.reason) == (None, "image size or number of steps unknown")


# -- FLUX.2: input images ------------------------------------------------------------------------


def _edit_form(**fields: Any) -> Multipart:
    return Multipart({"prompt": "the fox, in winter", "steps": "10", **fields})


def _edit_cost(out_tiles: int, in_tiles: int, steps: int = 10) -> float:
    return out_tiles * steps * TILE + in_tiles * steps * STEP


@pytest.mark.parametrize(
    ("form", "usd"),
    [
        pytest.param(_edit_form(), _edit_cost(1, 0), id="no input images"),
        pytest.param(
            _edit_form(input_image_0=("a.png", _png(1024, 1024), "image/png")),
            _edit_cost(1, 4),
            id="one form file",
        ),
        pytest.param(
            _edit_form(
                input_image_0=("a.png", _png(1025, 512), "image/png"),
                input_image_1=_png(512, 512),
                input_image_3=("c.png", _png(1, 1), "image/png"),
            ),
            _edit_cost(1, 3 + 1 + 1),
            id="three, summed; raw bytes too",
        ),
        pytest.param(
            _edit_form(
                input_image_0=_png(512, 512),
                input_image_mask=_png(4096, 4096),  # not an input image field
                my_input_image_1=_png(4096, 4096),
            ),
            _edit_cost(1, 1),
            id="only input_image_<n> fields",
        ),
    ],
)
def test_flux2_input_images_are_charged_per_tile(form: Multipart, usd: float) -> None:
    cost = run_cost(EDIT, form, _b64_png(512, 512))
    assert cost.reason is None and cost.usd == pytest.approx(usd, rel=1e-12, abs=0)


@pytest.mark.parametrize(
    "unreadable",
    [
        pytest.param(b"not an image", id="not an image"),
        pytest.param(("a.png", b"not an image", "image/png"), id="a form file that is not one"),
        pytest.param(_png(0, 512), id="zero width"),
        pytest.param("aGVsbG8=", id="a string"),
        pytest.param(("a.png", _png(512, 512)), id="a pair, not a form file"),
    ],
)
def test_one_unreadable_input_image_makes_the_cost_unknown(unreadable: Any) -> None:
    for form in (
        _edit_form(input_image_0=unreadable, input_image_1=_png(512, 512)),
        _edit_form(input_image_0=_png(512, 512), input_image_1=unreadable),
        _edit_form(input_image_0=unreadable, input_image_1=unreadable),
    ):
        cost = run_cost(EDIT, form, _b64_png(512, 512))
        assert (cost.usd, cost.reason) == (None, "input image size unknown")


# -- speech recognition: audio seconds ----------------------------------------------------------


@pytest.mark.parametrize(
    ("output", "seconds"),
    [
        pytest.param({"transcription_info": {"duration": 90.0}}, 90.0, id="whisper turbo"),
        pytest.param({"metadata": {"duration": "30"}}, 30.0, id="Deepgram nova-3"),
        pytest.param(
            {"transcription_info": None, "metadata": {"duration": 30}},
            30.0,
            id="no transcription_info: metadata",
        ),
        pytest.param(
            {"transcription_info": {"duration": 90}, "metadata": {"duration": 30}},
            90.0,
            id="transcription_info first",
        ),
        pytest.param(
            {"words": [{"word": "a", "end": 1.5}, {"word": "b", "end": 12.0}, "junk"]},
            12.0,
            id="last word's end",
        ),
        pytest.param(
            {"segments": [{"end": 4.0}, {"end": 20}], "words": [{"end": 3.0}]},
            20.0,
            id="last segment's end",
        ),
        pytest.param(
            {"transcription_info": {"duration": True}, "words": [{"end": 6.0}]},
            6.0,
            id="a duration that is not a number: the words",
        ),
        pytest.param(
            {"words": [{"end": True}, {"end": "40"}, {"end": 2}]},
            2.0,
            id="only numeric ends count",
        ),
    ],
)
def test_speech_is_charged_by_its_duration(output: dict[str, Any], seconds: float) -> None:
    cost = run_cost(SPEECH, {"audio": "AAAA"}, output)
    assert cost.reason is None
    assert cost.usd == pytest.approx(PER_MINUTE * seconds / 60, rel=1e-12, abs=0)


@pytest.mark.parametrize(
    "output",
    [
        pytest.param({"text": "hi"}, id="no timing"),
        pytest.param({"text": "hi", "words": None, "segments": None}, id="nulls"),
        pytest.param({"words": [{"end": None}], "segments": [{"start": 1}]}, id="no ends"),
        pytest.param(b"raw bytes", id="not JSON"),
    ],
)
def test_speech_without_a_duration_is_unpriced(output: Any) -> None:
    cost = run_cost(SPEECH, {"audio": "AAAA"}, output)
    assert (cost.usd, cost.reason) == (None, "audio duration unknown")


# -- text-to-speech: characters -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("inputs", "usd"),
    [
        pytest.param({"prompt": "hello world"}, 11 * PER_CHARACTER, id="prompt"),
        pytest.param({"text": "hello"}, 5 * PER_CHARACTER, id="text"),
        pytest.param({"prompt": "hi", "text": "hello"}, 2 * PER_CHARACTER, id="prompt first"),
        pytest.param(Multipart({"text": "hello"}), 5 * PER_CHARACTER, id="a form"),
    ],
)
def test_text_to_speech_is_charged_by_characters(inputs: Any, usd: float) -> None:
    cost = run_cost(TTS, inputs, b"ID3audio")
    assert cost.reason is None and cost.usd == pytest.approx(usd, rel=1e-12, abs=0)


@pytest.mark.parametrize("inputs", [{}, {"prompt": 42}, ["hello"], b"hello"])
def test_text_to_speech_without_text_is_unpriced(inputs: Any) -> None:
    cost = run_cost(TTS, inputs, b"ID3audio")
    assert (cost.usd, cost.reason) == (None, "character count unknown")


# -- everything else: token usage from the answer -----------------------------------------------


def test_other_models_are_charged_by_the_usage_in_their_answer() -> None:
    output = {"response": "hi", "usage": {"prompt_tokens": 1000, "completion_tokens": 0}}
    # characters, tiles and seconds of a chat request are not read: only its usage
    inputs = {"prompt": "x" * 50, "width": 4096, "height": 4096}
    assert run_cost(CHAT, inputs, output).usd == pytest.approx(0.5 + 1000e-6)
    cost = run_cost(CHAT, inputs, {"response": "hi"})
    assert (cost.usd, cost.reason) == (None, "no token usage reported")
    cost = run_cost(CHAT, inputs, "plain text")
    assert (cost.usd, cost.reason) == (None, "no token usage reported")
    cost = run_cost("@cf/unknown/model", inputs, output)
    assert (cost.usd, cost.reason) == (None, "no published price")


def test_record_run_records_what_run_cost_estimates() -> None:
    output = {"response": "hi", "usage": {"prompt_tokens": 1000, "completion_tokens": 0}}
    record_run(CHAT, {"prompt": "x"}, output)  # nothing tracking: nothing to do
    tracker = UsageTracker()
    with track_usage(tracker):
        record_run(CHAT, {"prompt": "x"}, output)
        record_run(PLAIN_IMAGE, {"num_steps": 2}, _png(512, 512))
        record_run(TTS, {"text": "hello"}, b"ID3audio")
    assert tracker.by_model[CHAT].prompt_tokens == 1000
    assert tracker.by_model[CHAT].usd == pytest.approx(0.5 + 1000e-6)
    assert tracker.by_model[PLAIN_IMAGE].usd == pytest.approx(_image_cost(1, 2))
    assert tracker.by_model[PLAIN_IMAGE].requests_without_usage == 1
    assert tracker.by_model[TTS].usd == pytest.approx(5 * PER_CHARACTER)
    assert tracker.total.requests == 3
