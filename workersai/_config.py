"""Credentials, base URL and AI Gateway options.

Credentials are looked up once, at construction, and never make construction fail: a
missing account id or token is reported by the first request, naming every variable that
was tried (wire reference §1.1).
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError, field_validator

from workersai.errors import InvalidInputError, MissingCredentialsError

DEFAULT_BASE_URL = "https://api.cloudflare.com/client/v4"

ACCOUNT_ID_ENV: tuple[str, ...] = ("CLOUDFLARE_ACCOUNT_ID", "CF_ACCOUNT_ID")
API_TOKEN_ENV: tuple[str, ...] = ("CLOUDFLARE_API_TOKEN", "CF_AI_API_TOKEN")
ACCOUNT_ID_FILE_ENV = "CLOUDFLARE_ACCOUNT_ID_FILE"
API_TOKEN_FILE_ENV = "CLOUDFLARE_API_TOKEN_FILE"
BASE_URL_ENV = "CLOUDFLARE_BASE_URL"
GATEWAY_ENV = "CLOUDFLARE_AI_GATEWAY"

# URL-path-safe characters (RFC 3986 "unreserved"); real account ids are 32 hex digits.
_ACCOUNT_ID = re.compile(r"^[A-Za-z0-9._~-]+$")


@dataclass(frozen=True, slots=True)
class CredentialSource:
    """Where one credential was found: ``value`` came from ``origin`` (a variable's name, or
    ``"<FILE_ENV> (<path>)"``); ``problem`` explains a file that could not be used."""

    value: str | None
    origin: str | None = None
    problem: str | None = None


def find_credential(names: tuple[str, ...], file_env: str) -> CredentialSource:
    """The first set variable of ``names``, else the file named by ``file_env``."""
    for name in names:
        value = os.environ.get(name, "").strip()
        if value:
            return CredentialSource(value, name)
    path = os.environ.get(file_env, "").strip()
    if not path:
        return CredentialSource(None)
    try:
        value = Path(path).read_text(encoding="utf-8").strip()
    except OSError as exc:
        return CredentialSource(
            None, problem=f"{file_env} points to {path!r}, which cannot be read ({exc.strerror})"
        )
    if not value:
        return CredentialSource(None, problem=f"{file_env} points to {path!r}, which is empty")
    return CredentialSource(value, f"{file_env} ({path})")


def _from_env_or_file(names: tuple[str, ...], file_env: str) -> tuple[str | None, str | None]:
    """``(value, problem)`` of :func:`find_credential`."""
    found = find_credential(names, file_env)
    return found.value, found.problem


def account_id_from_env() -> str | None:
    """Account id from ``CLOUDFLARE_ACCOUNT_ID``, ``CF_ACCOUNT_ID`` or ``*_FILE``."""
    return _from_env_or_file(ACCOUNT_ID_ENV, ACCOUNT_ID_FILE_ENV)[0]


def api_token_from_env() -> SecretStr | None:
    """Token from ``CLOUDFLARE_API_TOKEN`` / ``CF_AI_API_TOKEN`` / ``CLOUDFLARE_API_TOKEN_FILE``."""
    value = _from_env_or_file(API_TOKEN_ENV, API_TOKEN_FILE_ENV)[0]
    return SecretStr(value) if value else None


@dataclass(slots=True)
class Credentials:
    """Resolved account id and token (token kept as ``SecretStr``)."""

    account_id: str | None
    api_token: SecretStr | None
    problems: list[str] = field(default_factory=list)

    def __repr__(self) -> str:
        token = "SecretStr('**********')" if self.api_token else None
        return f"Credentials(account_id={self.account_id!r}, api_token={token})"

    @classmethod
    def resolve(cls, account_id: str | None, api_token: str | SecretStr | None) -> Credentials:
        """Explicit values win; then the environment variables; then the ``*_FILE`` files."""
        if account_id is not None and not isinstance(account_id, str):
            raise InvalidInputError(
                f"account_id must be a string, got {type(account_id).__name__}",
                field="account_id",
            )
        if api_token is not None and not isinstance(api_token, (str, SecretStr)):
            # The type only: the value may be the token itself.
            raise InvalidInputError(
                f"api_token must be a string or SecretStr, got {type(api_token).__name__}",
                field="api_token",
            )
        problems: list[str] = []
        if account_id is None:
            account_id, problem = _from_env_or_file(ACCOUNT_ID_ENV, ACCOUNT_ID_FILE_ENV)
            if problem:
                problems.append(problem)
        token: SecretStr | None
        if isinstance(api_token, SecretStr):
            token = api_token if api_token.get_secret_value() else None
        elif api_token:
            token = SecretStr(api_token)
        else:
            raw, problem = _from_env_or_file(API_TOKEN_ENV, API_TOKEN_FILE_ENV)
            token = SecretStr(raw) if raw else None
            if problem:
                problems.append(problem)
        return cls(account_id=account_id or None, api_token=token, problems=problems)

    def require(self) -> tuple[str, SecretStr]:
        """Both credentials, or :class:`MissingCredentialsError` naming what to set."""
        missing: list[str] = []
        if not self.account_id:
            missing.append(
                "the account id (pass account_id=... or set "
                + " / ".join(ACCOUNT_ID_ENV)
                + f" or {ACCOUNT_ID_FILE_ENV})"
            )
        if self.api_token is None:
            missing.append(
                "the API token (pass api_token=... or set "
                + " / ".join(API_TOKEN_ENV)
                + f" or {API_TOKEN_FILE_ENV})"
            )
        if missing:
            detail = "; ".join(self.problems)
            raise MissingCredentialsError(
                "Workers AI credentials are missing: " + " and ".join(missing) + ".",
                hint=(detail + ". " if detail else "")
                + "Find the account id in the Cloudflare dashboard URL and create an API token "
                "with the 'Workers AI Read' permission.",
            )
        assert self.account_id is not None
        assert self.api_token is not None
        if not _ACCOUNT_ID.match(self.account_id):
            raise InvalidInputError(
                f"The account id {self.account_id!r} cannot be part of a URL path.",
                field="account_id",
                hint="Copy the 32-character account id from the Cloudflare dashboard URL.",
            )
        token = self.api_token.get_secret_value()
        if not token.isascii() or not token.isprintable() or " " in token:
            # Never echo the value: it is (most likely) the secret itself.
            raise InvalidInputError(
                "The API token contains spaces, line breaks or non-ASCII characters, which an "
                "Authorization header cannot carry.",
                field="api_token",
                hint="Check CLOUDFLARE_API_TOKEN for stray quotes, spaces or a pasted line break.",
            )
        return self.account_id, self.api_token


def resolve_base_url(base_url: str | None) -> str:
    """The API root: argument, else ``CLOUDFLARE_BASE_URL``, else the public API."""
    if base_url is not None and not isinstance(base_url, str):
        raise InvalidInputError(
            f"base_url must be a string, got {type(base_url).__name__}", field="base_url"
        )
    url = base_url or os.environ.get(BASE_URL_ENV, "").strip() or DEFAULT_BASE_URL
    if not url.startswith(("http://", "https://")):
        raise InvalidInputError(
            f"base_url must start with http:// or https://, got {url!r}", field="base_url"
        )
    return url.rstrip("/")


class GatewayOptions(BaseModel):
    """Route requests through an AI Gateway (wire reference §1.5).

    Requests keep going to the normal endpoint and carry ``cf-aig-gateway-id`` plus the
    ``cf-aig-*`` headers below (the 2026 unified REST form).

    Example:
        >>> GatewayOptions(id="my-gateway", cache_ttl=3600, metadata={"team": "search"})
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    id: str = Field(min_length=1, description="Gateway name (cf-aig-gateway-id).")
    cache_ttl: int | None = Field(default=None, ge=0, description="Cache TTL in seconds.")
    skip_cache: bool = False
    cache_key: str | None = None
    metadata: dict[str, str | int | float | bool] | None = Field(
        default=None, description="Custom metadata logged with the request (max 5 entries)."
    )
    request_timeout_ms: int | None = Field(default=None, gt=0)
    max_attempts: int | None = Field(default=None, ge=1, le=5)
    retry_delay_ms: int | None = Field(default=None, ge=0)
    backoff: Literal["constant", "linear", "exponential"] | None = None
    collect_log: bool | None = None
    authorization: SecretStr | None = Field(
        default=None, description="Token of an authenticated gateway (cf-aig-authorization)."
    )

    @field_validator("metadata")
    @classmethod
    def _at_most_five(cls, value: dict[str, Any] | None) -> dict[str, Any] | None:
        if value is not None and len(value) > 5:
            raise ValueError("AI Gateway accepts at most 5 metadata entries")
        return value

    @classmethod
    def coerce(
        cls, value: str | GatewayOptions | Mapping[str, Any] | None
    ) -> GatewayOptions | None:
        """Accept a gateway name, a mapping of options, or options; ``None`` reads the env."""
        if value is None:
            env = os.environ.get(GATEWAY_ENV, "").strip()
            return cls(id=env) if env else None
        if isinstance(value, GatewayOptions):
            return value
        if not isinstance(value, (str, Mapping)):
            raise InvalidInputError(
                "gateway must be a gateway name, a mapping of options or GatewayOptions, "
                f"not {type(value).__name__}",
                field="gateway",
            )
        try:
            return cls(id=value) if isinstance(value, str) else cls.model_validate(dict(value))
        except ValidationError as exc:
            first = exc.errors()[0]
            where = ".".join(str(p) for p in first["loc"]) or "gateway"
            raise InvalidInputError(
                f"Invalid AI Gateway option {where}: {first['msg']}", field=f"gateway.{where}"
            ) from None

    def headers(self) -> dict[str, str]:
        """The request headers for these options."""
        out = {"cf-aig-gateway-id": self.id}
        if self.cache_ttl is not None:
            out["cf-aig-cache-ttl"] = str(self.cache_ttl)
        if self.skip_cache:
            out["cf-aig-skip-cache"] = "true"
        if self.cache_key is not None:
            out["cf-aig-cache-key"] = self.cache_key
        if self.metadata:
            # ASCII-escaped JSON: an HTTP header cannot carry raw UTF-8 ("équipe" → "\u00e9quipe").
            out["cf-aig-metadata"] = json.dumps(self.metadata, separators=(",", ":"))
        if self.request_timeout_ms is not None:
            out["cf-aig-request-timeout"] = str(self.request_timeout_ms)
        if self.max_attempts is not None:
            out["cf-aig-max-attempts"] = str(self.max_attempts)
        if self.retry_delay_ms is not None:
            out["cf-aig-retry-delay"] = str(self.retry_delay_ms)
        if self.backoff is not None:
            out["cf-aig-backoff"] = self.backoff
        if self.collect_log is not None:
            out["cf-aig-collect-log"] = "true" if self.collect_log else "false"
        if self.authorization is not None:
            out["cf-aig-authorization"] = f"Bearer {self.authorization.get_secret_value()}"
        return out


def gateway_info(headers: Mapping[str, str]) -> dict[str, str]:
    """The ``cf-aig-*`` response headers worth surfacing (cache status, log and event ids)."""
    out: dict[str, str] = {}
    for name, key in (
        ("cf-aig-cache-status", "cache_status"),
        ("cf-aig-log-id", "log_id"),
        ("cf-aig-event-id", "event_id"),
    ):
        value = headers.get(name)
        if value:
            out[key] = value
    return out


#: Settings of a connection, fixed when a client (or an adapter object) is built. Given with
#: one call they would be sent to the model as input — an API token included — so a call that
#: names one fails instead. Both adapters' spellings of the HTTP clients are here.
CONNECTION_SETTINGS = frozenset(
    {
        "account_id",
        "api_token",
        "api_key",
        "base_url",
        "gateway",
        "max_retries",
        "http_client",
        "http_async_client",
        "async_http_client",
        "default_headers",
    }
)


def per_call_options(options: Mapping[str, Any]) -> dict[str, Any]:
    """One call's keyword arguments as request options, checked before any request.

    Transport settings — ``timeout`` (also spelled ``request_timeout``, LangChain's name),
    ``extra_headers`` and ``session_affinity`` — stay options of the request, which the
    client takes out of the body; connection settings cannot change per call and are refused
    rather than sent to the model.

    Example:
        >>> per_call_options({"temperature": 0.2, "request_timeout": 5})
        {'temperature': 0.2, 'timeout': 5}
    """
    fixed = sorted(CONNECTION_SETTINGS.intersection(options))
    if fixed:
        raise InvalidInputError(
            f"{fixed[0]!r} is a connection setting and cannot be given per call",
            field=fixed[0],
            hint="Set it when building the client (a per-call value would reach the model).",
        )
    out = dict(options)
    if "request_timeout" in out:
        if "timeout" in out:
            raise InvalidInputError("give timeout or request_timeout, not both", field="timeout")
        out["timeout"] = out.pop("request_timeout")
    return out
