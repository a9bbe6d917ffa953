"""The real thing: llama-cpp-python's own OpenAI-compatible server (`python -m llama_cpp.server`,
the `[server]` extra) on 127.0.0.1 serving the bundled SmolLM2 GGUF, reviewed through `openai/...`
with `--api-base`. That server refuses `json_schema` response formats (a 500 naming
response_format); the seam must move to `json_object` and every seat must end ok or unscored."""

import json
import os
import socket
import subprocess
import sys
import time
import urllib.request

import pytest

from panel.models.local import resolve_gguf

pytestmark = pytest.mark.slow


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="module")
def llama_server(tmp_path_factory):
    port = free_port()
    log = tmp_path_factory.mktemp("llama-server") / "server.log"  # a file: llama.cpp logs a lot, a pipe would fill
    proc = subprocess.Popen(
        [sys.executable, "-m", "llama_cpp.server", "--model", str(resolve_gguf("smollm2")), "--host", "127.0.0.1",
         "--port", str(port), "--n_ctx", "8192", "--model_alias", "smollm2"],  # 4096 overflowed with the framed prompt
        stdout=subprocess.DEVNULL, stderr=log.open("w"),
    )
    url = f"http://127.0.0.1:{port}/v1"
    deadline = time.monotonic() + 120
    while True:
        try:
            with urllib.request.urlopen(f"{url}/models", timeout=2) as answer:
                assert json.load(answer)["data"][0]["id"] == "smollm2"
            break
        except (OSError, ValueError):
            if proc.poll() is not None or time.monotonic() > deadline:
                proc.kill()
                pytest.fail(f"llama_cpp.server did not start: {log.read_text()[-2000:]}")
            time.sleep(0.5)
    yield url
    proc.terminate()
    proc.wait(20)


def test_five_persona_review_through_llama_cpp_python_server(workspace, make_brief, llama_server):
    make_brief("gadget", description="Gadget is an open-source command-line tool that formats Python code."
                                     " It is MIT licensed, has thousands of users and runs offline.")
    env = {**os.environ, "PANEL_HOME": str(workspace)}
    proc = subprocess.run(
        [sys.executable, "-m", "panel.cli", "review", "gadget", "--model", "openai/smollm2", "--api-base",
         llama_server, "--json"],
        capture_output=True, text=True, env=env, timeout=900,
    )
    assert proc.returncode in (0, 1), proc.stderr
    panel = json.loads(proc.stdout)["panels"][0]
    statuses = [v["status"] for v in panel["verdicts"]]
    assert len(statuses) == 5 and "error" not in statuses, [(v["status"], v.get("error")) for v in panel["verdicts"]]
    assert statuses.count("ok") >= 1
    detail = json.loads(subprocess.run(
        [sys.executable, "-m", "panel.cli", "audit", "show", "1", "--json"], capture_output=True, text=True, env=env,
    ).stdout)
    # The server refused json_schema; every call went on in json_object mode, which it takes.
    assert {call["response_mode"] for call in detail["calls"]} == {"json_object"}
