"""Workers AI image generation as a LlamaIndex tool: :class:`WorkersAIImageTool` (a ready
``FunctionTool``) or :class:`WorkersAIImageToolSpec` (a ``BaseToolSpec``)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from llama_index.core.tools import FunctionTool, ToolMetadata
from llama_index.core.tools.tool_spec.base import SPEC_FUNCTION_TYPE, BaseToolSpec

from llamaindex_workersai._base import WorkersAIConnection
from workersai.images import DEFAULT_IMAGE_MODEL, ImageResult, check_image_params, image_tool_schema
from workersai.models import resolve_model

__all__ = ["WorkersAIImageTool", "WorkersAIImageToolSpec"]

_DESCRIPTION = (
    "Generate an image from a detailed text description (subject, style, composition, "
    "lighting). The image is delivered to the user directly; you receive a short confirmation."
)


class WorkersAIImageToolSpec(BaseToolSpec):
    """An image-generation tool for LlamaIndex agents, on any Workers AI image model.

    The tool's arguments are ``prompt`` plus only the parameters the chosen model takes
    (flux-1-schnell: ``num_steps``; Stable Diffusion: size, steps, guidance, seed...). The
    agent sees a one-line confirmation; the image itself is the tool output's
    ``raw_output`` (an :class:`~workersai.ImageResult`), never base64 in the conversation.

    Example:
        .. code-block:: python

            from llama_index.core.agent.workflow import FunctionAgent
            from llamaindex_workersai import WorkersAIImageToolSpec

            tools = WorkersAIImageToolSpec(width=1024, height=768,
                                           model="@cf/bytedance/stable-diffusion-xl-lightning")
            agent = FunctionAgent(tools=tools.to_tool_list(), llm=llm)
            response = await agent.run("Draw a lighthouse at dusk")
            image = response.tool_calls[0].tool_output.raw_output
            image.save("lighthouse.png")
    """

    spec_functions: list[SPEC_FUNCTION_TYPE] = [("generate_image", "agenerate_image")]  # noqa: RUF012

    def __init__(self, model: str = DEFAULT_IMAGE_MODEL, **settings: Any) -> None:
        """Args:
        model: Text-to-image model.
        **settings: Connection settings (``account_id``, ``api_token``/``api_key``,
            ``base_url``, ``gateway``, ``timeout``, ``max_retries``, ``http_client``,
            ``async_http_client``; see :mod:`llamaindex_workersai._base`) and generation
            parameters for every call (``width``, ``num_steps``, ...), checked against the
            model now.
        """
        self.model = resolve_model(model)
        self._connection = WorkersAIConnection.pop_from(settings)
        check_image_params(self.model, settings)
        self.defaults = settings

    def _params(self, params: dict[str, Any]) -> dict[str, Any]:
        given = {k: v for k, v in params.items() if v is not None}
        return {"model": self.model, **self.defaults, **given}

    def generate_image(self, prompt: str, **params: Any) -> ImageResult:
        """Generate an image from a text description."""
        return self._connection.client.generate_image(prompt, **self._params(params))

    async def agenerate_image(self, prompt: str, **params: Any) -> ImageResult:
        """Async twin of :meth:`generate_image` (uses the async core client)."""
        return await self._connection.async_client.generate_image(prompt, **self._params(params))

    def to_tool(
        self, name: str = "generate_image", description: str = _DESCRIPTION
    ) -> FunctionTool:
        """The image tool alone (sync and async)."""
        return self._tool(name, description, self.generate_image, self.agenerate_image)

    def _tool(
        self,
        name: str,
        description: str,
        fn: Callable[..., ImageResult] | None,
        async_fn: Callable[..., Awaitable[ImageResult]] | None,
    ) -> FunctionTool:
        metadata = ToolMetadata(
            name=name,
            description=description,
            fn_schema=image_tool_schema(self.model, name="GenerateImage"),
        )
        return FunctionTool.from_defaults(
            fn=fn,
            async_fn=async_fn,
            tool_metadata=metadata,
            callback=_confirmation,
            async_callback=_aconfirmation,
        )

    def to_tool_list(
        self,
        spec_functions: list[SPEC_FUNCTION_TYPE] | None = None,
        func_to_metadata_mapping: dict[str, ToolMetadata] | None = None,
    ) -> list[FunctionTool]:
        """One tool per entry of ``spec_functions`` (default ``[("generate_image",
        "agenerate_image")]``), each with the model-specific argument schema.

        As in ``BaseToolSpec``: a name gives a tool of that function alone, a
        ``(sync, async)`` pair one tool of both, and ``func_to_metadata_mapping`` (keyed by
        function name) overrides a tool's name and description. ``[]`` gives no tools.
        """
        specs = self.spec_functions if spec_functions is None else spec_functions
        mapping = func_to_metadata_mapping or {}
        functions = ("generate_image", "agenerate_image")
        tools = []
        for spec in specs:
            names = (spec,) if isinstance(spec, str) else spec
            if not isinstance(names, tuple) or len(names) not in (1, 2):
                raise ValueError("spec_functions must be a list of names or (sync, async) pairs")
            unknown = [n for n in names if n not in functions]
            if unknown:
                raise ValueError(
                    f"{type(self).__name__} has no function {unknown[0]!r}; it has "
                    f"{', '.join(functions)}"
                )
            metadata = next((mapping[n] for n in names if n in mapping), None)
            fn = self.generate_image if "generate_image" in names else None
            async_fn = self.agenerate_image if "agenerate_image" in names else None
            tools.append(
                self._tool(
                    metadata.name if metadata and metadata.name else names[0],
                    metadata.description if metadata else _DESCRIPTION,
                    fn,
                    async_fn,
                )
            )
        return tools


class WorkersAIImageTool(FunctionTool):
    """The image-generation tool itself: a ``FunctionTool`` for any Workers AI image model.

    The same tool as ``WorkersAIImageToolSpec(...).to_tool()`` — arguments are ``prompt``
    plus the model's own parameters, the agent sees a one-line confirmation and the image is
    the output's ``raw_output`` (an :class:`~workersai.ImageResult`) — without the spec.

    Example:
        .. code-block:: python

            from llama_index.core.agent.workflow import FunctionAgent
            from llamaindex_workersai import WorkersAIImageTool

            agent = FunctionAgent(tools=[WorkersAIImageTool(num_steps=4)], llm=llm)
    """

    def __init__(
        self,
        model: str = DEFAULT_IMAGE_MODEL,
        *,
        name: str = "generate_image",
        description: str = _DESCRIPTION,
        **settings: Any,
    ) -> None:
        """Args:
        model: Text-to-image model.
        name, description: What the agent sees.
        **settings: Connection settings and generation defaults (``width``,
            ``num_steps``, ...) of :class:`WorkersAIImageToolSpec`.
        """
        self._wrap(WorkersAIImageToolSpec(model, **settings), name, description)

    def _wrap(self, spec: WorkersAIImageToolSpec, name: str, description: str) -> None:
        self.spec = spec
        super().__init__(
            fn=spec.generate_image,
            metadata=ToolMetadata(
                name=name,
                description=description,
                fn_schema=image_tool_schema(spec.model, name="GenerateImage"),
            ),
            async_fn=spec.agenerate_image,
            callback=_confirmation,
            async_callback=_aconfirmation,
        )

    def __reduce__(self) -> tuple[Any, ...]:
        # The generated argument schema cannot be pickled; the spec (model, defaults and
        # connection settings, never a secret) can, and the tool is rebuilt from it.
        return (_tool_from_spec, (self.spec, self.metadata.name, self.metadata.description))


def _tool_from_spec(
    spec: WorkersAIImageToolSpec, name: str, description: str
) -> WorkersAIImageTool:
    tool = WorkersAIImageTool.__new__(WorkersAIImageTool)
    tool._wrap(spec, name, description)
    return tool


def _confirmation(image: ImageResult) -> str:
    return f"Generated a {image.describe()}. It is shown to the user; it is not included here."


async def _aconfirmation(image: ImageResult) -> str:
    return _confirmation(image)
