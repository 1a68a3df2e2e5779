"""Workers AI image generation as a LangChain ``Runnable``, and as an agent tool."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from langchain_core.prompt_values import PromptValue
from langchain_core.runnables import RunnableConfig, RunnableSerializable
from langchain_core.tools import BaseTool, StructuredTool
from pydantic import BaseModel, ConfigDict, Field, model_validator

from langchain_workersai._base import WorkersAIClientFields
from langchain_workersai._errors import langchain_errors
from workersai.errors import InvalidInputError
from workersai.images import (
    DEFAULT_IMAGE_MODEL,
    ImageResult,
    check_image_params,
    image_tool_schema,
)
from workersai.integration import per_call_options

__all__ = ["ImageInput", "WorkersAIImage"]

ImageInput = str | PromptValue | Mapping[str, Any]

_DEFAULT_FIELDS = (
    "negative_prompt",
    "width",
    "height",
    "num_steps",
    "guidance",
    "seed",
    "strength",
)


class WorkersAIImage(WorkersAIClientFields, RunnableSerializable[ImageInput, ImageResult]):
    """Workers AI text-to-image (and image-to-image) as a LangChain Runnable.

    Every model family is handled: flux-1-schnell (JSON base64), Stable Diffusion XL,
    SDXL-lightning and dreamshaper (raw PNG), SD 1.5 img2img and inpainting, FLUX.2
    (multipart forms, up to four reference images) and Leonardo's phoenix and lucid-origin.
    Parameters a model does not take are rejected with its name before any request.

    Setup:
        .. code-block:: bash

            pip install -U "workersai[langchain]"
            export CLOUDFLARE_ACCOUNT_ID="..." CLOUDFLARE_API_TOKEN="..."

    Instantiate:
        .. code-block:: python

            from langchain_workersai import WorkersAIImage

            image_model = WorkersAIImage()  # @cf/black-forest-labs/flux-1-schnell
            sdxl = WorkersAIImage(
                model="@cf/stabilityai/stable-diffusion-xl-base-1.0",
                width=1024, height=768, num_steps=20,
            )

    Invoke:
        .. code-block:: python

            image = image_model.invoke("a lighthouse at dusk, oil painting")
            image                     # shows inline in Jupyter
            image.mime_type, image.size
            image.save("lighthouse.jpg")

        .. code-block:: none

            ('image/jpeg', (1024, 1024))
            PosixPath('lighthouse.jpg')

    Image-to-image and inpainting:
        .. code-block:: python

            WorkersAIImage(model="@cf/runwayml/stable-diffusion-v1-5-inpainting").invoke(
                {"prompt": "a full moon", "image": "photo.png", "mask": "mask.png"}
            )

    Async and batch (in parallel, one shared connection pool):
        .. code-block:: python

            image = await image_model.ainvoke("a red fox in snow")
            images = image_model.batch(["a cat", "a dog", "a llama"])

    In a chain:
        .. code-block:: python

            from langchain_core.prompts import PromptTemplate

            chain = PromptTemplate.from_template("A watercolor of {city} at night") | image_model
            chain.invoke({"city": "Lisbon"})

    As an agent tool (the image travels as the tool artifact, not as text):
        .. code-block:: python

            tool = image_model.as_tool()
            message = tool.invoke({"type": "tool_call", "id": "1", "name": tool.name,
                                   "args": {"prompt": "a lighthouse"}})
            message.content   # 'Generated a 1024x1024 JPEG image (...)...'
            ImageResult.from_bytes(message.artifact).save("lighthouse.jpg")
    """

    model_config = ConfigDict(populate_by_name=True, arbitrary_types_allowed=True, extra="forbid")

    model: str = DEFAULT_IMAGE_MODEL
    """Text-to-image model id (or short name)."""
    negative_prompt: str | None = None
    """What the image should not contain (Stable Diffusion, phoenix)."""
    width: int | None = None
    """Width in pixels (not flux-1-schnell)."""
    height: int | None = None
    """Height in pixels (not flux-1-schnell)."""
    num_steps: int | None = None
    """Diffusion steps; sent as ``steps`` to the models that call it that (Flux)."""
    guidance: float | None = None
    """How closely to follow the prompt."""
    seed: int | None = None
    """Random seed for reproducible images."""
    strength: float | None = None
    """img2img: how much to change the input image (0-1)."""
    model_kwargs: dict[str, Any] = Field(default_factory=dict)
    """Other model inputs, sent as is."""

    @model_validator(mode="after")
    def _check_defaults(self) -> WorkersAIImage:
        # Fail at construction, naming the model, rather than on the first invoke.
        check_image_params(self.model, {**self._defaults(), **self.model_kwargs})
        return self

    def _defaults(self) -> dict[str, Any]:
        return {
            name: getattr(self, name) for name in _DEFAULT_FIELDS if getattr(self, name) is not None
        }

    def _request(self, input_: ImageInput, kwargs: Mapping[str, Any]) -> dict[str, Any]:
        if isinstance(input_, PromptValue):
            request: dict[str, Any] = {"prompt": input_.to_string()}
        elif isinstance(input_, str):
            request = {"prompt": input_}
        elif isinstance(input_, Mapping):
            request = dict(input_)
        else:
            raise InvalidInputError(
                "WorkersAIImage takes a prompt string, a PromptValue or a dict with 'prompt', "
                f"not {type(input_).__name__}"
            )
        params = {"model": self.model, **self._defaults(), **self.model_kwargs, **request}
        params.update(per_call_options(kwargs))  # per-call arguments win
        if not isinstance(params.get("prompt"), str) or not params["prompt"]:
            raise InvalidInputError("a non-empty 'prompt' is required", field="prompt")
        return params

    def _generate(self, input_: ImageInput, **kwargs: Any) -> ImageResult:
        with langchain_errors():
            params = self._request(input_, kwargs)
            return self._client.generate_image(params.pop("prompt"), **params)

    async def _agenerate(self, input_: ImageInput, **kwargs: Any) -> ImageResult:
        with langchain_errors():
            params = self._request(input_, kwargs)
            return await self._async_client.generate_image(params.pop("prompt"), **params)

    def invoke(
        self, input: ImageInput, config: RunnableConfig | None = None, **kwargs: Any
    ) -> ImageResult:
        """Generate one image from a prompt string, a ``PromptValue`` or a dict of inputs."""
        return self._call_with_config(self._generate, input, config, **kwargs)

    async def ainvoke(
        self, input: ImageInput, config: RunnableConfig | None = None, **kwargs: Any
    ) -> ImageResult:
        """Async twin of :meth:`invoke` (uses the async core client)."""
        return await self._acall_with_config(self._agenerate, input, config, **kwargs)

    def as_tool(
        self,
        args_schema: type[BaseModel] | None = None,
        *,
        name: str | None = None,
        description: str | None = None,
        arg_types: dict[str, type] | None = None,
    ) -> BaseTool:
        """An image-generation tool for agents.

        Its arguments are ``prompt`` plus only the parameters this model takes (with their
        documented ranges). The tool message says what was made; the image bytes are the
        message's ``artifact`` (``ImageResult.from_bytes(message.artifact)``), so the model
        never receives a huge base64 string.
        """
        if arg_types is not None and args_schema is None:
            raise InvalidInputError("pass args_schema (a pydantic model), not arg_types")
        schema = args_schema or image_tool_schema(self.model, name="GenerateImageInput")

        def generate_image(config: RunnableConfig, **arguments: Any) -> tuple[str, bytes]:
            image = self.invoke(_drop_none(arguments), config)
            return _tool_content(image), image.data

        async def agenerate_image(config: RunnableConfig, **arguments: Any) -> tuple[str, bytes]:
            image = await self.ainvoke(_drop_none(arguments), config)
            return _tool_content(image), image.data

        return StructuredTool.from_function(
            func=generate_image,
            coroutine=agenerate_image,
            name=name or "generate_image",
            description=description
            or (
                "Generate an image from a detailed text description. The image is delivered "
                "to the user directly; you receive a short confirmation."
            ),
            args_schema=schema,
            response_format="content_and_artifact",
        )


def _drop_none(arguments: Mapping[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in arguments.items() if v is not None}


def _tool_content(image: ImageResult) -> str:
    return f"Generated a {image.describe()}. It is attached for the user; it is not shown here."
