"""Settings: command-line flags beat MCP_MEMORY_* environment variables, which beat defaults."""

from __future__ import annotations

from pathlib import Path

import pytest

from mcp_memory.cli.main import build_parser, settings_from_args
from mcp_memory.config import Settings, default_data_dir


def settings_for(argv: list[str]) -> Settings:
    return settings_from_args(build_parser().parse_args(argv))


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    import os

    for key in list(os.environ):
        if key.startswith("MCP_MEMORY_"):
            monkeypatch.delenv(key)


def test_defaults_use_the_users_data_dir_and_stdio() -> None:
    settings = settings_for(["serve"])
    assert settings.data_dir == default_data_dir()
    assert "mcp-memory" in str(settings.data_dir)
    assert (settings.transport, settings.host, settings.port, settings.chroma_url) == ("stdio", "127.0.0.1", 8765, None)


def test_environment_beats_defaults(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("MCP_MEMORY_DATA_DIR", str(tmp_path / "env"))
    monkeypatch.setenv("MCP_MEMORY_PORT", "9001")
    monkeypatch.setenv("MCP_MEMORY_CHROMA_URL", "http://127.0.0.1:8000")
    settings = settings_for(["serve"])
    assert settings.data_dir == tmp_path / "env"
    assert settings.port == 9001
    assert settings.chroma_url == "http://127.0.0.1:8000"


def test_flags_beat_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("MCP_MEMORY_DATA_DIR", str(tmp_path / "env"))
    monkeypatch.setenv("MCP_MEMORY_TRANSPORT", "stdio")
    monkeypatch.setenv("MCP_MEMORY_PORT", "9001")
    monkeypatch.setenv("MCP_MEMORY_LOG_LEVEL", "ERROR")
    settings = settings_for(
        [
            "serve",
            "--data-dir",
            str(tmp_path / "flag"),
            "--transport",
            "http",
            "--port",
            "9100",
            "--host",
            "0.0.0.0",
            "--chroma-url",
            "http://10.0.0.5:8000",
            "-v",
        ]
    )
    assert settings.data_dir == tmp_path / "flag"
    assert settings.transport == "http"
    assert settings.port == 9100
    assert settings.host == "0.0.0.0"
    assert settings.chroma_url == "http://10.0.0.5:8000"
    assert settings.log_level == "INFO"


def test_blank_chroma_url_means_the_embedded_store(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MCP_MEMORY_CHROMA_URL", "  ")
    assert settings_for(["serve"]).chroma_url is None


def test_invalid_environment_value_is_reported(monkeypatch: pytest.MonkeyPatch) -> None:
    from pydantic import ValidationError

    monkeypatch.setenv("MCP_MEMORY_PORT", "not-a-port")
    with pytest.raises(ValidationError, match="port"):
        settings_for(["serve"])


@pytest.mark.parametrize("argv", [["--data-dir", "D", "serve"], ["serve", "--data-dir", "D"], ["--data-dir", "D"]])
def test_store_flags_work_before_or_after_the_command(argv: list[str]) -> None:
    assert settings_for(argv).data_dir == Path("D")


def test_the_console_alone_defaults_to_a_port_beside_the_servers(monkeypatch: pytest.MonkeyPatch) -> None:
    assert (settings_for(["serve"]).port, settings_for(["console"]).port) == (8765, 8766)
    assert settings_for(["console", "--port", "9000"]).port == 9000
    monkeypatch.setenv("MCP_MEMORY_PORT", "9001")
    assert settings_for(["console"]).port == 9001


@pytest.mark.parametrize(
    "command", ["serve", "console", "seed", "stats", "recall", "export", "import", "backup", "demo"]
)
def test_every_command_describes_itself_in_its_help(command: str, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        build_parser().parse_args([command, "--help"])
    rest = capsys.readouterr().out.partition("\n\n")[2]
    assert rest.split("\n\n")[0].strip() and not rest.startswith(("positional", "options")), rest[:200]
