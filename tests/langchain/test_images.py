"""``WorkersAIImage``: the Runnable, its parallel batch, and the agent tool.

Cassettes are composed (tests/compose/media.py) in the documented per-family formats
(wire reference §8.1); the loopback tests measure parallelism, and check that the composer's
offline pictures follow their prompts.
"""

from __future__ import annotations

import asyncio
import io
import threading
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest
from langchain_core.exceptions import ModelInvalidRequestError, ModelRateLimitError
from langchain_core.language_models.fake_chat_models import GenericFakeChatModel
from langchain_core.messages import AIMessage, ToolMessage
from langchain_core.prompts import PromptTemplate
from langchain_core.runnables import Runnable
from langchain_core.tools import BaseTool
from PIL import Image
from pydantic import ValidationError

from langchain_workersai import WorkersAIImage
from tests.compose.media import INPAINT_COLOUR
from tests.conftest import LOOPBACK, loopback_connection
from workersai import ImageResult, InvalidInputError
from workersai.testing import RecordedRequest, Reply, WorkersAIServer

FIXTURES = Path(__file__).parent.parent / "fixtures"
PNG = (FIXTURES / "photo.png").read_bytes()
SDXL = "@cf/stabilityai/stable-diffusion-xl-base-1.0"


class TestWorkersAIImage:
    @pytest.mark.vcr
    def test_invoke_with_a_prompt_string(self) -> None:
        image = WorkersAIImage().invoke("a lighthouse at dusk, oil painting")
        assert isinstance(image, ImageResult)
        assert image.mime_type == "image/jpeg"
        assert image.size == (256, 256)
        assert image.model == "@cf/black-forest-labs/flux-1-schnell"

    @pytest.mark.vcr
    def test_invoke_dict_with_defaults_and_per_call_overrides(self) -> None:
        model = WorkersAIImage(model=SDXL, width=512, height=512, num_steps=8, seed=1)
        image = model.invoke(
            {"prompt": "a lighthouse on a cliff", "negative_prompt": "blurry", "width": 320},
            height=256,  # per-call kwargs win over both the fields and the input
        )
        assert image.mime_type == "image/png"
        assert image.size == (320, 256)

    @pytest.mark.vcr
    def test_in_a_chain_after_a_prompt_template(self) -> None:
        chain = PromptTemplate.from_template("a {subject} at dusk, oil painting") | WorkersAIImage()
        image = chain.invoke({"subject": "lighthouse"})
        assert image.size == (256, 256)

    @pytest.mark.vcr
    async def test_ainvoke(self) -> None:
        image = await WorkersAIImage().ainvoke("a lighthouse at dusk, oil painting")
        assert image.mime_type == "image/jpeg"

    @pytest.mark.vcr
    def test_img2img_and_inpainting_round_trips(self) -> None:
        source = Image.open(FIXTURES / "photo.png").convert("RGB")
        img2img = WorkersAIImage(model="@cf/runwayml/stable-diffusion-v1-5-img2img", strength=0.5)
        varied = img2img.invoke({"prompt": "a stormy sunset", "image": source}).to_pil()
        assert varied.size == source.size
        assert varied.convert("RGB").getpixel((24, 30)) != source.getpixel((24, 30))

        inpaint = WorkersAIImage(model="@cf/runwayml/stable-diffusion-v1-5-inpainting")
        repainted = inpaint.invoke(
            {"prompt": "a full moon", "image": PNG, "mask": FIXTURES / "mask.png"}
        )
        pixels = repainted.to_pil().convert("RGB")
        assert pixels.getpixel((47, 13)) == INPAINT_COLOUR
        assert pixels.getpixel((5, 60)) == source.getpixel((5, 60))

    @pytest.mark.vcr
    def test_flux_2_reference_images(self) -> None:
        model = WorkersAIImage(model="@cf/black-forest-labs/flux-2-klein-9b", width=128)
        image = model.invoke({"prompt": "the same boat at night", "image": [PNG], "height": 128})
        assert image.size == (128, 128)

    @pytest.mark.vcr
    def test_capacity_error_is_a_langchain_rate_limit_error(self) -> None:
        model = WorkersAIImage(max_retries=0)
        with pytest.raises(ModelRateLimitError) as info:
            model.invoke("capacity test: a crowded stadium")
        assert getattr(info.value, "code", None) == 3040

    def test_unsupported_defaults_fail_at_construction_naming_the_model(self) -> None:
        with pytest.raises(ValidationError, match="flux-1-schnell does not accept width"):
            WorkersAIImage(width=512)
        with pytest.raises(ValidationError, match="num_steps=30 is out of range"):
            WorkersAIImage(model=SDXL, num_steps=30)
        with pytest.raises(ValidationError, match="is a Text Generation model"):
            WorkersAIImage(model="@cf/meta/llama-3.1-8b-instruct-fast")
        with pytest.raises(ValidationError, match="Extra inputs are not permitted"):
            WorkersAIImage(widht=512)

    def test_bad_call_input_is_a_langchain_invalid_request_error(self) -> None:
        model = WorkersAIImage(account_id="a", api_token="t", base_url="http://127.0.0.1:9")
        with pytest.raises(ModelInvalidRequestError, match="does not accept seed"):
            model.invoke({"prompt": "a fox", "seed": 3})
        with pytest.raises(InvalidInputError, match="non-empty 'prompt'"):
            model.invoke({"negative_prompt": "x"})
        with pytest.raises(InvalidInputError, match="not int"):
            model.invoke(42)  # type: ignore[arg-type]

    def test_token_is_secret(self) -> None:
        model = WorkersAIImage(account_id="acct", api_key="super-secret-token")
        assert "super-secret-token" not in repr(model)
        assert model.api_token is not None
        assert model.api_token.get_secret_value() == "super-secret-token"


# -- parallel batch, one shared client ---------------------------------------------------


def _slow_image_server(delay: float) -> WorkersAIServer:
    image = Image.new("RGB", (8, 8), "orange")
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")

    def handler(request: RecordedRequest) -> Reply:
        time.sleep(delay)
        return Reply.binary(buffer.getvalue(), "image/png")

    return WorkersAIServer(handler)


@LOOPBACK
class TestWorkersAIImageBatch:
    DELAY = 0.4

    def test_batch_runs_in_parallel_on_one_client(self) -> None:
        with _slow_image_server(self.DELAY) as server:
            model = WorkersAIImage(
                model=SDXL, account_id="a", api_token="t", base_url=server.base_url
            )
            started = time.perf_counter()
            images = model.batch([f"picture {i}" for i in range(4)])
            elapsed = time.perf_counter() - started
            client = model._client
            assert model.invoke("one more").size == (8, 8)
            assert model._client is client
        assert [image.size for image in images] == [(8, 8)] * 4
        assert elapsed < 4 * self.DELAY * 0.6  # sequential would take 4 x DELAY
        assert sorted(r.json()["prompt"] for r in server.requests[:4]) == [
            f"picture {i}" for i in range(4)
        ]

    def test_abatch_runs_concurrently_on_the_async_client(self) -> None:
        with _slow_image_server(self.DELAY) as server:
            model = WorkersAIImage(
                model=SDXL, account_id="a", api_token="t", base_url=server.base_url
            )

            async def run() -> list[ImageResult]:
                return await model.abatch([f"picture {i}" for i in range(4)])

            started = time.perf_counter()
            images = asyncio.run(run())
            elapsed = time.perf_counter() - started
        assert len(images) == 4
        assert elapsed < 4 * self.DELAY * 0.6
        assert "_client" not in model.__dict__  # the sync client was never created

    def test_max_concurrency_is_honoured(self) -> None:
        active, peak, lock = 0, 0, threading.Lock()
        png = io.BytesIO()
        Image.new("RGB", (4, 4)).save(png, format="PNG")

        def handler(request: RecordedRequest) -> Reply:
            nonlocal active, peak
            with lock:
                active += 1
                peak = max(peak, active)
            time.sleep(0.1)
            with lock:
                active -= 1
            return Reply.binary(png.getvalue(), "image/png")

        with WorkersAIServer(handler) as server:
            model = WorkersAIImage(
                model=SDXL, account_id="a", api_token="t", base_url=server.base_url
            )
            model.batch([f"p{i}" for i in range(6)], config={"max_concurrency": 2})
        assert peak == 2


# -- the agent tool ----------------------------------------------------------------------


class _ToolCallingFake(GenericFakeChatModel):
    """A fake chat model that accepts tools (it answers from its script regardless)."""

    def bind_tools(self, tools: Sequence[Any], **kwargs: Any) -> Runnable[Any, Any]:
        return self


class TestWorkersAIImageTool:
    def test_tool_schema_has_only_what_the_model_takes(self) -> None:
        flux_tool = WorkersAIImage().as_tool()
        assert flux_tool.name == "generate_image"
        assert set(flux_tool.args) == {"prompt", "num_steps"}
        sdxl_tool = WorkersAIImage(model=SDXL).as_tool(name="draw", description="Draw it.")
        assert sdxl_tool.name == "draw"
        assert sdxl_tool.description == "Draw it."
        assert {"width", "height", "negative_prompt", "seed", "guidance"} <= set(sdxl_tool.args)

    @pytest.mark.vcr
    def test_tool_call_returns_the_image_as_artifact(self) -> None:
        tool = WorkersAIImage().as_tool()
        message = tool.invoke(
            {
                "type": "tool_call",
                "id": "call_1",
                "name": "generate_image",
                "args": {"prompt": "a lighthouse at dusk, oil painting", "num_steps": 4},
            }
        )
        assert isinstance(message, ToolMessage)
        assert message.content == (
            "Generated a 256x256 JPEG image (6.3 kB) by @cf/black-forest-labs/flux-1-schnell. "
            "It is attached for the user; it is not shown here."
        )
        assert isinstance(message.artifact, bytes)
        image = ImageResult.from_bytes(message.artifact)
        assert image.size == (256, 256)

    @pytest.mark.vcr
    async def test_async_tool_call(self) -> None:
        tool = WorkersAIImage().as_tool()
        message = await tool.ainvoke(
            {
                "type": "tool_call",
                "id": "call_2",
                "name": "generate_image",
                "args": {"prompt": "a lighthouse at dusk, oil painting"},
            }
        )
        assert len(message.content) < 200
        assert ImageResult.from_bytes(message.artifact).mime_type == "image/jpeg"

    def test_tool_rejects_invalid_arguments_before_any_request(self) -> None:
        tool: BaseTool = WorkersAIImage(
            model=SDXL, account_id="a", api_token="t", base_url="http://127.0.0.1:9"
        ).as_tool()
        with pytest.raises(ModelInvalidRequestError, match="num_steps=50 is out of range"):
            tool.invoke({"prompt": "a fox", "num_steps": 50})

    @pytest.mark.vcr
    def test_an_agent_calls_the_tool_and_gets_the_image_as_artifact(self) -> None:
        from langchain.agents import create_agent

        model = _ToolCallingFake(
            messages=iter(
                [
                    AIMessage(
                        content="",
                        tool_calls=[
                            {
                                "name": "generate_image",
                                "args": {"prompt": "a lighthouse at dusk, oil painting"},
                                "id": "call_agent",
                                "type": "tool_call",
                            }
                        ],
                    ),
                    AIMessage(content="Here is your lighthouse."),
                ]
            )
        )
        agent = create_agent(model, tools=[WorkersAIImage().as_tool()])
        state = agent.invoke({"messages": [("user", "Paint a lighthouse at dusk")]})
        [tool_message] = [m for m in state["messages"] if isinstance(m, ToolMessage)]
        assert tool_message.tool_call_id == "call_agent"
        assert "JPEG image" in tool_message.content
        assert ImageResult.from_bytes(tool_message.artifact).size == (256, 256)
        assert state["messages"][-1].content == "Here is your lighthouse."


# -- the offline stand-ins (notebook 03) -----------------------------------------------------


def _pixels(image: ImageResult, region: tuple[int, int, int, int] | None = None) -> list[Any]:
    picture = image.to_pil().convert("RGB")
    data = (picture.crop(region) if region else picture).tobytes()
    return [tuple(data[i : i + 3]) for i in range(0, len(data), 3)]


def _brightness(image: ImageResult) -> float:
    pixels = _pixels(image)
    return sum(sum(p) for p in pixels) / (3 * len(pixels))


@LOOPBACK
def test_offline_stand_in_pictures_follow_their_prompts(server: WorkersAIServer) -> None:
    # The composer (tests/compose/media.py) draws the pictures the notebooks replay offline;
    # each must visibly follow its prompt, or notebook 03 shows the wrong thing.
    from tests.compose import handler

    server.handler = handler
    connection = loopback_connection(server)
    sdxl = WorkersAIImage(model=SDXL, width=384, height=256, **connection)
    boat = sdxl.invoke("a small sailboat on a calm sea at sunset, watercolor")
    sea = sdxl.invoke("a calm sea at sunset, watercolor")
    # A white sail stands in the sky (above the horizon at 2/3 of the height) with the boat only.
    sky = (0, 0, 384, 170)
    white = sum(1 for p in _pixels(boat, sky) if min(p) > 220)
    assert white > 2000, white
    assert sum(1 for p in _pixels(sea, sky) if min(p) > 220) == 0

    lighthouse = WorkersAIImage(**connection).invoke("a lighthouse at dusk on a rocky coast")
    img2img = WorkersAIImage(model="@cf/runwayml/stable-diffusion-v1-5-img2img", **connection)
    stormy = img2img.invoke(
        {"prompt": "the same lighthouse on a stormy night, dark clouds", "image": lighthouse},
        strength=0.5,
    )
    assert stormy.size == lighthouse.size
    assert _brightness(stormy) < 0.6 * _brightness(lighthouse)  # night, not the input again
    # ... and still the same lighthouse: its lamp and beam (bright yellow) keep shining
    assert sum(1 for r, g, b in _pixels(stormy) if r > 200 and g > 200 and b < 190) > 500
