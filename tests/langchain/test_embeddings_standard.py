"""langchain-tests standard suites for WorkersAIEmbeddings (integration: composed cassettes)."""

from __future__ import annotations

from typing import Any

import pytest
from langchain_tests.integration_tests import EmbeddingsIntegrationTests
from langchain_tests.unit_tests import EmbeddingsUnitTests

from langchain_workersai import WorkersAIEmbeddings

MODEL = "@cf/baai/bge-base-en-v1.5"


class TestWorkersAIEmbeddingsUnit(EmbeddingsUnitTests):
    @property
    def embeddings_class(self) -> type[WorkersAIEmbeddings]:
        return WorkersAIEmbeddings

    @property
    def embedding_model_params(self) -> dict[str, Any]:
        return {"model": MODEL}

    @property
    def init_from_env_params(self) -> tuple[dict[str, str], dict[str, Any], dict[str, Any]]:
        return (
            {"CLOUDFLARE_ACCOUNT_ID": "acct-from-env", "CLOUDFLARE_API_TOKEN": "tok-from-env"},
            {"model": MODEL},
            {"account_id": "acct-from-env", "api_token": "tok-from-env"},
        )


@pytest.mark.vcr
class TestWorkersAIEmbeddingsIntegration(EmbeddingsIntegrationTests):
    @property
    def embeddings_class(self) -> type[WorkersAIEmbeddings]:
        return WorkersAIEmbeddings

    @property
    def embedding_model_params(self) -> dict[str, Any]:
        return {"model": MODEL}
