"""``workersai demo`` offline: the bundled example answers replayed through the real stack.

The demo's exchanges (``workersai/examples/demo.json.gz``) are composed from the tests'
emulator by ``scripts/compose_examples.py``; this test replays them. Every request the demo
makes must find its recorded answer — the RAG step sends the README's sections, so editing
README.md without re-composing fails here, by design.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from PIL import Image

from tests.conftest import LOOPBACK
from workersai import examples
from workersai.cli import demo, main
from workersai.examples import OFFLINE_AS_ASKED_NOTICE, OFFLINE_NOTICE

pytestmark = LOOPBACK

_ENV = (
    "CLOUDFLARE_BASE_URL",
    "CLOUDFLARE_ACCOUNT_ID",
    "CLOUDFLARE_API_TOKEN",
    examples.OFFLINE_ENV,
    examples.PACE_ENV,
)


@pytest.fixture
def offline(monkeypatch: pytest.MonkeyPatch) -> None:
    # replay_unless_live sets these for the process: monkeypatch restores them afterwards.
    for name in _ENV:
        monkeypatch.setenv(name, os.environ.get(name, ""))
    monkeypatch.delenv("CLOUDFLARE_ACCOUNT_ID")
    monkeypatch.delenv("CLOUDFLARE_API_TOKEN")
    monkeypatch.setenv(examples.PACE_ENV, "0")


def test_demo_runs_offline_end_to_end(
    offline: None, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out_dir = tmp_path / "not" / "there yet"  # created, as the help says
    code = main(["demo", "--out-dir", str(out_dir), "--usage"])
    replay = examples._ACTIVE["demo"].handler
    assert isinstance(replay, examples.ExampleReplay)
    assert replay.unmatched == [], (
        "the demo sent requests its bundled answers do not cover: "
        "run `python scripts/compose_examples.py demo`"
    )
    assert code == 0
    out = capsys.readouterr().out
    lines = out.splitlines()
    assert lines[0] == OFFLINE_NOTICE
    # 1: streamed chat with usage and finish reason from the stream's last chunk
    assert "Cloudflare Workers AI runs open models" in out
    assert "[finish: stop · " in out
    # 2: the agent called both tools in turn and answered from their results
    assert "→ get_weather(city='Lisbon')" in out
    assert "→ celsius_to_fahrenheit(celsius=21" in out  # "21" coerced to a number
    assert "which is 69.8 °F." in out
    # 3: retrieval found the README's Testing section and the answer quotes its command
    assert "source: README.md § Testing" in out
    readme_command = next(
        line.strip()
        for line in examples.readme_text().splitlines()
        if "WORKERSAI_CASSETTES=live" in line
    )
    assert f"`{readme_command}`" in out
    # 4: the image is on disk, a real PNG
    image = Image.open(out_dir / demo.IMAGE_FILE)
    assert image.format == "PNG" and image.size[0] > 0
    assert f"saved {out_dir / demo.IMAGE_FILE}: " in out
    # --usage: the summary table counts every request of the run
    assert "@cf/meta/llama-3.3-70b-instruct-fp8-fast" in out and "est. USD" in out


def test_demo_with_credentials_goes_live(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # With credentials set, nothing is replayed: the demo talks to CLOUDFLARE_BASE_URL.
    from workersai.testing import Reply, WorkersAIServer

    with WorkersAIServer(lambda request: Reply.error(401, 10000, "Authentication error")) as srv:
        monkeypatch.setenv("CLOUDFLARE_BASE_URL", srv.base_url)
        monkeypatch.delenv(examples.OFFLINE_ENV, raising=False)
        assert main(["demo", "--out-dir", str(tmp_path)]) == 1
        captured = capsys.readouterr()
        assert captured.out.splitlines()[0].startswith("live: ")
        assert "error: " in captured.err and "Traceback" not in captured.err
        assert len(srv.requests) == 1  # 401 is not retried
        hint = next(line for line in captured.err.splitlines() if line.startswith("hint: "))
        assert hint.endswith(
            "Or run the demo offline: `workersai demo --offline` replays bundled example answers."
        )


def test_a_live_demo_without_network_suggests_offline(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    import socket

    with socket.socket() as probe:  # a loopback port nobody listens on: connection refused
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    monkeypatch.setenv("CLOUDFLARE_BASE_URL", f"http://127.0.0.1:{port}/client/v4")
    monkeypatch.delenv(examples.OFFLINE_ENV, raising=False)
    monkeypatch.setattr("workersai._transport.RetryPolicy.backoff", lambda self, retries: 0.0)
    assert main(["demo", "--out-dir", str(tmp_path)]) == 1
    captured = capsys.readouterr()
    assert captured.out.splitlines()[0].startswith("live: ")
    error, hint = captured.err.strip().splitlines()
    assert error.startswith("error: ") and "ConnectError" in error
    assert hint == (
        "hint: Check the network and any proxy, or run the demo offline: "
        "`workersai demo --offline` replays bundled example answers."
    )


def test_demo_offline_with_credentials_does_not_ask_for_them(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # Credentials are set (tests/conftest.py): --offline replays without advising to set them.
    for name in _ENV:
        monkeypatch.setenv(name, os.environ.get(name, ""))
    monkeypatch.setenv("CLOUDFLARE_ACCOUNT_ID", "0123456789abcdef0123456789abcdef")
    monkeypatch.setenv("CLOUDFLARE_API_TOKEN", "a-real-looking-token")
    monkeypatch.delenv(examples.OFFLINE_ENV)
    monkeypatch.setenv(examples.PACE_ENV, "0")
    assert main(["demo", "--offline", "--out-dir", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert out.splitlines()[0] == OFFLINE_AS_ASKED_NOTICE
    assert OFFLINE_NOTICE not in out  # "set CLOUDFLARE_ACCOUNT_ID and ... to run live"
    assert (tmp_path / demo.IMAGE_FILE).is_file()


def test_demo_out_dir_that_is_a_file(
    offline: None, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "pictures").write_text("not a directory")
    assert main(["demo", "--out-dir", str(tmp_path / "pictures")]) == 1
    err = capsys.readouterr().err
    assert err.splitlines() == [
        f"error: --out-dir {tmp_path / 'pictures'} is a file",
        "hint: Pass a directory (it is created if missing).",
    ]


def test_the_demo_help_says_where_the_picture_goes(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["demo", "--help"])
    assert demo.IMAGE_FILE in capsys.readouterr().out
