"""All settings in one place, read from ``MCP_MEMORY_*`` environment variables.

Precedence: command-line flags (passed as init arguments) beat the environment, which beats defaults.
"""

import re
import sys
from pathlib import Path
from typing import Literal

import platformdirs
from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from mcp_memory.errors import InvalidInput

PACKAGED_MODEL = "all-MiniLM-L6-v2"


def default_data_dir() -> Path:
    """The user's data directory for this application (e.g. ~/.local/share/mcp-memory on Linux)."""
    return Path(platformdirs.user_data_dir("mcp-memory", appauthor=False))


def default_cache_dir() -> Path:
    """The user's cache directory for this application (e.g. ~/.cache/mcp-memory on Linux)."""
    return Path(platformdirs.user_cache_dir("mcp-memory", appauthor=False))


def default_seeds_dir() -> Path:
    """The knowledge files: beside the package in a checkout, under ``<prefix>/share`` when installed."""
    beside_package = Path(__file__).resolve().parent.parent / "seeds"
    if beside_package.is_dir():
        return beside_package
    return Path(sys.prefix) / "share" / "mcp-memory" / "seeds"


class Settings(BaseSettings):
    """Configuration of the memory server; every field is ``MCP_MEMORY_<FIELD>`` in the environment."""

    model_config = SettingsConfigDict(env_prefix="MCP_MEMORY_", extra="ignore")

    data_dir: Path = Field(default_factory=default_data_dir, description="Where the embedded store lives.")
    chroma_url: str | None = Field(
        default=None, description="URL of a Chroma server (e.g. http://127.0.0.1:8000); embedded store if unset."
    )
    database_url: str | None = Field(
        default=None,
        description="PostgreSQL URL (postgresql://user:password@host:5432/db) of the database servers share; "
        "an SQLite file in the data dir if unset.",
        repr=False,
    )
    transport: Literal["stdio", "http"] = "stdio"
    host: str = "127.0.0.1"
    port: int = Field(default=8765, ge=0, le=65535)
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "WARNING"
    seed_on_start: bool = Field(default=True, description="Seed the knowledge base when the server starts.")
    project: str = Field(
        default="",
        max_length=200,
        description="The project of callers that name none and whose client has no roots; empty is global.",
    )
    seeds_dir: Path = Field(default_factory=default_seeds_dir)
    max_text_chars: int = Field(default=100_000, ge=100, description="Longest accepted text argument.")
    max_event_data_chars: int = Field(
        default=65_536, ge=256, description="Largest episode event `data`, as JSON characters; larger is rejected."
    )
    max_results: int = Field(default=50, ge=1, le=1000, description="Largest n_results a recall accepts.")
    embed_threads: int = Field(default=1, ge=1, le=64, description="Threads used for encoding.")
    encoder: Literal["onnx", "torch"] = Field(
        default="onnx",
        description="'onnx': ONNX Runtime over a graph exported once from the model (fast start, no torch while "
        "serving, a text's vector independent of its batch; torch serves if it fails); 'torch': "
        "sentence-transformers on torch.",
    )
    cache_dir: Path = Field(
        default_factory=default_cache_dir, description="Where exported ONNX graphs are kept (per user, any data dir)."
    )
    embed_batch_size: int = Field(default=32, ge=1, le=1024)
    model: str = Field(
        default=PACKAGED_MODEL,
        description=f"Embedding model: '{PACKAGED_MODEL}' (packaged) or a sentence-transformers model folder.",
    )
    model_path: Path | None = Field(
        default=None, description="Older name for a model folder; used when `model` is left at its default."
    )
    tokens: str | None = Field(
        default=None, description="Bearer tokens for HTTP, as 'agent-a:TOKEN1,agent-b:TOKEN2'.", repr=False
    )
    tokens_file: Path | None = Field(default=None, description="File of 'name:token' lines; re-read when it changes.")
    rate_limit_per_second: float = Field(default=50.0, ge=0, description="Requests per second per agent; 0 = off.")
    rate_limit_burst: int = Field(default=100, ge=1, description="Requests an agent may make at once.")
    allowed_hosts: str | None = Field(
        default=None, description="Extra Host names accepted over HTTP when bound to a non-loopback address."
    )
    max_request_bytes: int = Field(default=4_000_000, ge=1024, description="Largest HTTP request body.")
    max_sessions_per_agent: int = Field(
        default=64, ge=1, description="Open MCP sessions one agent (token) may hold over HTTP; more get 429."
    )
    max_connections_per_address: int = Field(
        default=256, ge=1, description="Open HTTP connections from one client address; more are refused."
    )
    header_timeout_seconds: float = Field(
        default=10.0, gt=0, le=300, description="A client that has not sent its request headers by then is dropped."
    )
    max_auth_failures: int = Field(
        default=20,
        ge=1,
        description="Requests refused for a wrong or missing token per client address per minute "
        "before that address gets 429 for the rest of the minute.",
    )
    consolidate_every: float = Field(
        default=86_400.0,
        ge=0,
        description="How often a serving owner of the store consolidates it (merges near-duplicates, archives "
        "what only failed or went unused): a duration such as 24h, 30m or 7d (seconds as a number); 0 = never.",
    )
    archive_after: float = Field(
        default=180 * 86_400.0,
        gt=0,
        description="Consolidation archives a memory nobody recalled or used for this long (e.g. 180d, 26w).",
    )
    trusted_proxies: str | None = Field(
        default=None,
        description="Addresses of reverse proxies whose X-Forwarded-For is believed (comma-separated); "
        "nobody's if unset.",
    )
    trusted_agents: str | None = Field(
        default=None,
        description="Agents (token names, comma-separated) whose memories are trusted; the others' are marked "
        "untrusted and kept out of the task prompt until confirmed. Everyone is trusted if unset.",
    )
    confirmations: int = Field(
        default=2,
        ge=1,
        le=1000,
        description="Agents other than its author whose latest report says it worked, to trust a memory from an "
        "agent not in trusted_agents.",
    )

    @field_validator("consolidate_every", "archive_after", mode="before")
    @classmethod
    def _duration_in_seconds(cls, value: object) -> object:
        return parse_duration(value) if isinstance(value, str) else value

    @field_validator("data_dir", "seeds_dir", "tokens_file", "model_path", "cache_dir", mode="after")
    @classmethod
    def _expand_user(cls, value: Path | None) -> Path | None:
        return value.expanduser() if value is not None else None

    def model_folder(self) -> Path | None:
        """The sentence-transformers folder to load, or None for the packaged model."""
        if self.model != PACKAGED_MODEL:
            return Path(self.model).expanduser()
        return self.model_path

    @field_validator("model", mode="after")
    @classmethod
    def _model_is_packaged_or_a_folder(cls, value: str) -> str:
        value = value.strip() or PACKAGED_MODEL
        if value != PACKAGED_MODEL and not Path(value).expanduser().is_dir():
            raise ValueError(
                f"'{value}' is neither '{PACKAGED_MODEL}' (the packaged model) nor a sentence-transformers model folder"
            )
        return value

    def allowed_host_list(self) -> list[str]:
        return [h.strip() for h in (self.allowed_hosts or "").split(",") if h.strip()]

    def trusted_proxy_list(self) -> list[str]:
        return [h.strip() for h in (self.trusted_proxies or "").split(",") if h.strip()]

    def trusted_agent_names(self) -> frozenset[str] | None:
        """The agents whose memories are trusted; None when quarantine is off (everyone is trusted)."""
        names = frozenset(name.strip() for name in (self.trusted_agents or "").split(",") if name.strip())
        return names or None

    @field_validator("project", mode="after")
    @classmethod
    def _project_is_one(cls, value: str) -> str:
        value = value.strip()
        if value == "*" or any(ord(c) < 32 for c in value):
            raise ValueError("must name one project (a repository or folder name), or be empty for global")
        return value

    @field_validator("database_url", mode="after")
    @classmethod
    def _database_url_is_known(cls, value: str | None) -> str | None:
        if value is not None:
            try:
                sqlalchemy_url(value, None)
            except InvalidInput as exc:
                raise ValueError(f"{exc.problem} For example: {exc.fix}") from None
        return value

    @field_validator("chroma_url", "database_url", mode="before")
    @classmethod
    def _blank_is_none(cls, value: object) -> object:
        return None if isinstance(value, str) and not value.strip() else value


DURATION = re.compile(r"^(\d+(?:\.\d+)?)\s*(s|m|h|d|w)?$")
DURATION_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86_400, "w": 7 * 86_400}


def parse_duration(text: str) -> float:
    """Seconds in a duration such as "90s", "30m", "24h", "180d" or "2w" (a bare number is seconds)."""
    match = DURATION.match(text.strip().lower())
    if match is None:
        raise ValueError(f"'{text}' is not a duration such as 90s, 30m, 24h, 180d or 2w")
    return float(match.group(1)) * DURATION_SECONDS[match.group(2) or "s"]


SQLITE_FILE = "memory.sqlite3"
URL_EXAMPLE = "postgresql://user:password@db-host:5432/memory"


def sqlalchemy_url(database_url: str | None, data_dir: Path | None) -> str:
    """The SQLAlchemy URL for a configured database URL, or for the SQLite file in the data dir."""
    if not database_url:
        if data_dir is None:
            raise InvalidInput("database_url", "is needed when there is no data dir.", URL_EXAMPLE)
        return f"sqlite:///{data_dir / SQLITE_FILE}"
    url = database_url.strip()
    match = re.match(r"^(postgres|postgresql)(\+psycopg)?://", url)
    if match:
        return "postgresql+psycopg://" + url[match.end() :]
    if url.startswith("sqlite:///"):
        return url
    raise InvalidInput(
        "database_url",
        f"'{redact_url(url)}' is not a PostgreSQL URL (postgresql://...) or an SQLite URL (sqlite:///path).",
        URL_EXAMPLE,
    )


def redact_url(url: str) -> str:
    """A URL as it may be shown: the password replaced."""
    return re.sub(r"(://[^:/@]+):[^@]*@", r"\1:***@", url)
