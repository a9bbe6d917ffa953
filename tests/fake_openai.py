"""A small OpenAI-compatible chat-completions server for tests and benchmarks.

It speaks just enough HTTP/1.1 (keep-alive, Content-Length or chunked request bodies) on top of
``asyncio.start_server`` to be driven by real clients (httpx / the openai SDK / litellm's
``openai/`` provider with ``api_base``). Standard library only, one event loop, no threads per
connection, so thousands of calls at high concurrency cost very little CPU.

Python use::

    with FakeOpenAI(latency=0.5, rules=[("Skeptic", "skip")]) as srv:
        litellm.completion(model="openai/fake-model", api_base=srv.url, api_key="sk-test", ...)
        srv.add_faults("429", "drop")
        assert srv.requests == ...

Command line (prints ``READY http://127.0.0.1:PORT/v1`` once listening, serves until
SIGTERM/SIGINT)::

    python tests/fake_openai.py --latency 0.5 --port 0 --faults 429,500 --rule Skeptic=skip

HTTP endpoints:

* ``POST /v1/chat/completions`` (also ``/chat/completions``): a ``chat.completion`` object whose
  ``choices[0].message.content`` is a verdict JSON string. ``"stream": true`` gets a
  ``text/event-stream`` answer with the same content.
* ``GET /_stats``  -> ``{"requests", "completions", "faults_served", "faults_pending"}``
* ``POST /_faults`` with ``{"faults": [...]}`` appends to the fault queue
* ``POST /_reset`` clears counters, fault queue and log
* ``GET /_log``    -> the request bodies received (the last 5000)

Counting: ``requests`` counts chat-completion requests only (control endpoints are not
counted); ``completions`` counts chat-completion requests answered with status 200 (including
the 200-status content faults such as ``fenced``); ``faults_served`` counts faults taken from
the queue.

Requests per minute (``rpm_limit=N``, a standing rule like ``formats``): the server counts the
chat-completion requests it accepts in each calendar UTC minute (``per_minute``: minute ->
count) and answers any request past N in a minute with a 429 whose ``Retry-After`` is the
seconds left in the minute, before faults or latency; ``rate_limited`` counts those refusals,
so a client that passes the cap shows up there. Without ``rpm_limit`` nothing is refused, and
``per_minute`` still counts.

Faults (one is taken from the FIFO queue per chat-completion request; when the queue is empty
the answer is normal). ``latency`` is applied to every chat-completion request, faults included,
except ``slow`` which sleeps ``slow_seconds`` instead:

    429            error, with ``Retry-After`` (``retry_after``; ``"429:5"`` sets 5 for that one)
    500 502 503    server errors            401  bad API key          400  bad request
    slow           sleep ``slow_seconds`` (``"slow:2"`` = 2 s), then answer normally
    drop           read the request, then close the connection without answering
    reset          read the request, then abort the connection (TCP RST)
    non_json       200, content "I think this tool is great"
    truncated      200, content = a verdict JSON string cut in half
    fenced         200, content = "```json\\n{verdict}\\n```"
    empty_choices  200, ``"choices": []``
    bad_schema     200, valid JSON but verdict="maybe" and confidence=7

Structured-output personalities (``formats=``, a standing rule rather than a queued fault): how
real servers treat ``response_format``, with the statuses and texts they send:

    "all"               every type accepted (the default)
    "llama-cpp-python"  only text / json_object (+ schema); json_schema -> 500 whose body starts
                        "1 validation error" and names response_format.type (llama-cpp-python 0.3)
    "lmstudio"          only text / json_schema; json_object -> 400 {"error": "'response_format.type'
                        must be 'json_schema' or 'text'"}
    "text-only"         any response_format -> 400 "response_format is not supported"
    "ignores"           accepts anything but answers in prose unless the messages ask for JSON
    "unconstrained"     accepts anything; a ``json_schema`` asked with ``"strict": true`` is honoured
                        (decoding constrained: every verdict fits), otherwise every third verdict
                        leaves out its required ``headline``, as a model writing JSON unconstrained
                        sometimes does (OpenAI's own API behaves so with and without ``strict``)
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import hashlib
import http
import itertools
import json
import signal
import sys
import threading
import time
from typing import Any, Callable

__all__ = ["FakeOpenAI", "FAULTS", "default_verdict", "message_text"]

FAULTS = frozenset(
    {
        "429", "500", "502", "503", "401", "400",
        "slow", "drop", "reset",
        "non_json", "truncated", "fenced", "empty_choices", "bad_schema",
    }
)
_PARAM_FAULTS = {"429", "slow"}  # these accept ":<seconds>"
_COMPLETION_PATHS = {"/v1/chat/completions", "/chat/completions"}
_LOG_LIMIT = 5000
_MAX_HEADER_BYTES = 64 * 1024

_ERRORS = {
    # status: (message, type, code)
    400: ("Invalid request (injected fault).", "invalid_request_error", "invalid_request"),
    401: ("Incorrect API key provided (injected fault).", "invalid_request_error", "invalid_api_key"),
    429: ("Rate limit reached for requests (injected fault).", "requests", "rate_limit_exceeded"),
    500: ("The server had an error while processing your request (injected fault).", "server_error", "server_error"),
    502: ("Bad gateway (injected fault).", "server_error", "bad_gateway"),
    503: ("The engine is currently overloaded (injected fault).", "server_error", "service_unavailable"),
}


# --- verdict content --------------------------------------------------------------------------


def message_text(content: Any) -> str:
    """The text of one message's ``content``: a string, or a list of ``{"type": "text"}`` parts."""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        parts = []
        for part in content:
            if isinstance(part, dict) and isinstance(part.get("text"), str):
                parts.append(part["text"])
            elif isinstance(part, str):
                parts.append(part)
        return "\n".join(parts)
    return "" if content is None else str(content)


def _last_user_text(messages: list) -> str:
    for msg in reversed(messages or []):
        if isinstance(msg, dict) and msg.get("role") == "user":
            return message_text(msg.get("content"))
    return ""


def _digest(text: str) -> bytes:
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).digest()


_RATIONALE = {
    "ship": (
        "The brief states a concrete problem and a believable way of solving it. Setup looks short "
        "enough that a small team could try it within an afternoon, the pricing leaves room for a "
        "free trial, and the licence does not get in the way of commercial work. The claims are "
        "specific enough to check, and the integration story fits the tools most developers "
        "already use, so the open questions feel like normal early-product risk rather than a "
        "reason to pass on it."
    ),
    "skip": (
        "The brief promises a lot but backs little of it with specifics. It is unclear what the "
        "tool does better than the established options, the pricing hints at costs that grow "
        "quickly with usage, and the integration story depends on assumptions that many teams "
        "will not meet. Without evidence of real users or a clear path to adoption, the effort of "
        "evaluating it is hard to justify today, so it should wait for a later, more mature "
        "release."
    ),
}


def default_verdict(decision: str, seed: str = "") -> dict:
    """A verdict dict that satisfies panel's Verdict schema; details vary deterministically with seed."""
    h = _digest(seed)
    confidence = round(0.55 + 0.4 * h[1] / 255, 2)
    tag = h.hex()[:6]
    if decision == "ship":
        headline = f"Worth a trial: solves a real problem with little setup ({tag})"
        strengths = ["Clear problem statement", "Short setup path", "Permissive licence"]
        risks = ["Young project with a small community", "Pricing may change after launch"]
    else:
        headline = f"Not yet: unclear advantage over existing tools ({tag})"
        strengths = ["Ambitious scope"]
        risks = ["Vague differentiation", "Costs grow with usage", "Little evidence of adoption"]
    return {
        "rationale": _RATIONALE[decision],
        "verdict": decision,
        "confidence": confidence,
        "headline": headline,
        "strengths": strengths,
        "risks": risks,
        "competitors": ["Established incumbent", "Open-source alternative"],
    }


# --- HTTP plumbing -----------------------------------------------------------------------------


class _BadRequest(Exception):
    pass


async def _read_request(reader: asyncio.StreamReader):
    """One request head from the stream: (method, path, headers, keep_alive), or None at EOF."""
    try:
        head = await reader.readuntil(b"\r\n\r\n")
    except asyncio.IncompleteReadError as exc:
        if exc.partial.strip():
            raise _BadRequest("incomplete request head") from None
        return None
    except asyncio.LimitOverrunError:
        raise _BadRequest("request head too large") from None
    lines = head[:-4].decode("latin-1").split("\r\n")
    while lines and not lines[0]:  # tolerate stray CRLFs between requests
        lines.pop(0)
    try:
        method, target, version = lines[0].split(" ", 2)
    except (IndexError, ValueError):
        raise _BadRequest("malformed request line") from None
    headers: dict[str, str] = {}
    for line in lines[1:]:
        name, sep, value = line.partition(":")
        if not sep:
            raise _BadRequest("malformed header line")
        headers[name.strip().lower()] = value.strip()
    connection = headers.get("connection", "").lower()
    if version.upper() == "HTTP/1.0":
        keep_alive = "keep-alive" in connection
    else:
        keep_alive = "close" not in connection
    return method.upper(), target.split("?", 1)[0], headers, keep_alive


async def _read_body(reader: asyncio.StreamReader, headers: dict) -> bytes:
    if "chunked" in headers.get("transfer-encoding", "").lower():
        chunks = []
        while True:
            size_line = await reader.readline()
            try:
                size = int(size_line.split(b";", 1)[0].strip(), 16)
            except ValueError:
                raise _BadRequest("bad chunk size") from None
            if size == 0:
                while (await reader.readline()) not in (b"\r\n", b"\n", b""):
                    pass  # trailers
                return b"".join(chunks)
            chunks.append(await reader.readexactly(size))
            await reader.readexactly(2)
    length = headers.get("content-length")
    if not length:
        return b""
    try:
        n = int(length)
    except ValueError:
        raise _BadRequest("bad Content-Length") from None
    if n < 0:
        raise _BadRequest("bad Content-Length")
    return await reader.readexactly(n) if n else b""


def _format_type(response_format: Any) -> str:
    return str(response_format.get("type")) if isinstance(response_format, dict) else "text"


def _strict(response_format: Any) -> bool:
    """A json_schema response_format asked with "strict": true."""
    schema = response_format.get("json_schema") if isinstance(response_format, dict) else None
    return _format_type(response_format) == "json_schema" and isinstance(schema, dict) and schema.get("strict") is True


def _llama_cpp_python(response_format: Any):
    if _format_type(response_format) in ("text", "json_object"):
        return None
    detail = ("1 validation error for Request\nbody -> response_format -> type\n  Input should be 'text' or"
              f" 'json_object' [type=literal_error, input_value='{_format_type(response_format)}']")
    return 500, _json_bytes({"error": {"message": detail, "type": "internal_server_error", "code": None}}), {}


def _lmstudio(response_format: Any):
    if _format_type(response_format) in ("text", "json_schema"):
        return None
    return 400, _json_bytes({"error": "'response_format.type' must be 'json_schema' or 'text'"}), {}


def _text_only(response_format: Any):
    if response_format is None:
        return None
    return _error(400, "response_format is not supported by this server", code="unsupported_parameter")


_FORMAT_RULES: dict[str, Callable[[Any], Any]] = {
    "all": lambda response_format: None,
    "ignores": lambda response_format: None,
    "unconstrained": lambda response_format: None,
    "llama-cpp-python": _llama_cpp_python,
    "lmstudio": _lmstudio,
    "text-only": _text_only,
}


def _encode_response(status: int, body: bytes, headers: dict[str, str], keep_alive: bool) -> bytes:
    try:
        reason = http.HTTPStatus(status).phrase
    except ValueError:
        reason = "Unknown"
    lines = [f"HTTP/1.1 {status} {reason}"]
    all_headers = {"Content-Type": "application/json", **headers}
    all_headers["Content-Length"] = str(len(body))
    all_headers["Connection"] = "keep-alive" if keep_alive else "close"
    lines.extend(f"{k}: {v}" for k, v in all_headers.items())
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body


def _json_bytes(obj: Any) -> bytes:
    return json.dumps(obj, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def _error(status: int, message: str | None = None, etype: str | None = None, code: str | None = None):
    default_msg, default_type, default_code = _ERRORS.get(status, ("Error.", "invalid_request_error", None))
    body = {
        "error": {
            "message": message or default_msg,
            "type": etype or default_type,
            "param": None,
            "code": code if code is not None else default_code,
        }
    }
    return status, _json_bytes(body), {}


_DROP = object()
_RESET = object()


# --- the server --------------------------------------------------------------------------------


class FakeOpenAI:
    """An OpenAI-compatible chat-completions server on 127.0.0.1 (see the module docstring).

    ``rules``: (substring, "ship"|"skip") pairs; the first whose substring occurs in any
    message's content decides. Otherwise ``decide`` (a callable taking the messages list) if
    given, otherwise a hash of the last user message. ``content`` (a callable taking the request
    body dict and returning a string) replaces the whole message content when no content fault
    applies. Subclasses may also override :meth:`decide` or :meth:`make_content`.
    """

    def __init__(
        self,
        latency: float = 0.0,
        faults: list[str] | None = None,
        rules: list[tuple[str, str]] | None = None,
        retry_after: float = 1,
        slow_seconds: float = 30,
        *,
        decide: Callable[[list], str] | None = None,
        content: Callable[[dict], str] | None = None,
        formats: str = "all",
        rpm_limit: int | None = None,
        host: str = "127.0.0.1",
        port: int = 0,
    ) -> None:
        if formats not in _FORMAT_RULES:
            raise ValueError(f"formats must be one of {sorted(_FORMAT_RULES)}, not {formats!r}")
        self.formats = formats
        self.rpm_limit = rpm_limit
        self.latency = float(latency)
        self.retry_after = retry_after
        self.slow_seconds = float(slow_seconds)
        self.rules: list[tuple[str, str]] = []
        for substring, verdict in rules or []:
            if verdict not in ("ship", "skip"):
                raise ValueError(f"rule verdict must be 'ship' or 'skip', not {verdict!r}")
            self.rules.append((substring, verdict))
        self._decide_hook = decide
        self._content_hook = content
        self.host = host
        self.port = port

        self._lock = threading.Lock()
        self._faults: collections.deque[str] = collections.deque()
        self._log: collections.deque[dict] = collections.deque(maxlen=_LOG_LIMIT)
        self._requests = 0
        self._completions = 0
        self._faults_served = 0
        self._per_minute: collections.Counter[int] = collections.Counter()
        self._rate_limited = 0
        self._unconstrained = 0  # answers given without a strict schema (formats="unconstrained")
        self._ids = itertools.count(1)

        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._stop_event: asyncio.Event | None = None
        self._ready = threading.Event()
        self._startup_error: BaseException | None = None
        self._tasks: set[asyncio.Task] = set()
        if faults:
            self.add_faults(*faults)

    # -- public API ----------------------------------------------------------------------------

    @property
    def url(self) -> str:
        """The base URL to pass as ``api_base``, e.g. ``http://127.0.0.1:PORT/v1``."""
        if not self.port:
            raise RuntimeError("server not started")
        return f"http://{self.host}:{self.port}/v1"

    @property
    def requests(self) -> int:
        with self._lock:
            return self._requests

    @property
    def completions(self) -> int:
        with self._lock:
            return self._completions

    @property
    def faults_served(self) -> int:
        with self._lock:
            return self._faults_served

    @property
    def pending_faults(self) -> list[str]:
        with self._lock:
            return list(self._faults)

    @property
    def log(self) -> list[dict]:
        """The chat-completion request bodies received (a copy; the last 5000)."""
        with self._lock:
            return list(self._log)

    @property
    def per_minute(self) -> dict[int, int]:
        """Chat-completion requests accepted in each calendar UTC minute (minute number since the epoch)."""
        with self._lock:
            return dict(self._per_minute)

    @property
    def rate_limited(self) -> int:
        """Requests refused with a 429 because ``rpm_limit`` was reached in their minute."""
        with self._lock:
            return self._rate_limited

    def stats(self) -> dict:
        with self._lock:
            return {
                "requests": self._requests,
                "completions": self._completions,
                "faults_served": self._faults_served,
                "faults_pending": len(self._faults),
            }

    def add_faults(self, *faults: str) -> None:
        """Append faults to the FIFO queue. Raises ValueError for unknown names."""
        checked = [_check_fault(f) for f in faults]
        with self._lock:
            self._faults.extend(checked)

    def reset(self) -> None:
        """Zero the counters and clear the fault queue and the log."""
        with self._lock:
            self._faults.clear()
            self._log.clear()
            self._requests = self._completions = self._faults_served = 0
            self._per_minute.clear()
            self._rate_limited = 0

    def start(self) -> "FakeOpenAI":
        """Serve from a daemon thread running its own event loop; returns once listening."""
        if self._thread is not None:
            raise RuntimeError("already started")
        self._ready.clear()
        self._thread = threading.Thread(target=self._thread_main, name="fake-openai", daemon=True)
        self._thread.start()
        if not self._ready.wait(10):
            raise RuntimeError("fake OpenAI server did not start within 10 s")
        if self._startup_error is not None:
            self._thread.join(5)
            self._thread = None
            raise RuntimeError(f"fake OpenAI server failed to start: {self._startup_error}") from self._startup_error
        return self

    def stop(self) -> None:
        """Stop listening, cancel in-flight requests (e.g. ``slow`` ones) and join the thread."""
        thread, loop = self._thread, self._loop
        if thread is None or loop is None:
            return
        try:
            loop.call_soon_threadsafe(self._request_stop)
        except RuntimeError:  # loop already closed
            pass
        thread.join(10)
        self._thread = None

    def serve_forever(self, on_ready: Callable[[str], None] | None = None) -> None:
        """Serve in the calling thread until SIGTERM/SIGINT (used by the command line)."""

        async def main() -> None:
            loop = asyncio.get_running_loop()
            for sig in (signal.SIGTERM, signal.SIGINT):
                try:
                    loop.add_signal_handler(sig, self._request_stop)
                except (NotImplementedError, RuntimeError):  # pragma: no cover - non-Unix
                    signal.signal(sig, lambda *_: loop.call_soon_threadsafe(self._request_stop))
            await self._serve(on_ready)

        asyncio.run(main())

    def __enter__(self) -> "FakeOpenAI":
        if self._thread is None:
            self.start()
        return self

    def __exit__(self, *exc_info) -> None:
        self.stop()

    def __repr__(self) -> str:
        where = self.url if self.port else "not started"
        return f"<FakeOpenAI {where} latency={self.latency}>"

    # -- content hooks (override in subclasses if convenient) ------------------------------------

    def decide(self, messages: list) -> str:
        """"ship" or "skip" for these messages: rules, then the ``decide`` hook, then a hash."""
        if self.rules:
            texts = [message_text(m.get("content")) for m in messages or [] if isinstance(m, dict)]
            for substring, verdict in self.rules:
                if any(substring in text for text in texts):
                    return verdict
        if self._decide_hook is not None:
            verdict = self._decide_hook(messages)
            if verdict not in ("ship", "skip"):
                raise ValueError(f"decide hook returned {verdict!r}")
            return verdict
        return "ship" if _digest(_last_user_text(messages))[0] % 2 == 0 else "skip"

    def make_verdict(self, body: dict) -> dict:
        messages = body.get("messages") or []
        return default_verdict(self.decide(messages), _last_user_text(messages))

    def make_content(self, body: dict) -> str:
        if self._content_hook is not None:
            return self._content_hook(body)
        return json.dumps(self.make_verdict(body))

    # -- internals -------------------------------------------------------------------------------

    def _request_stop(self) -> None:
        if self._stop_event is not None:
            self._stop_event.set()

    def _thread_main(self) -> None:
        loop = asyncio.new_event_loop()
        self._loop = loop
        try:
            loop.run_until_complete(self._serve(None))
        except BaseException as exc:  # noqa: BLE001 - reported to start()
            if not self._ready.is_set():
                self._startup_error = exc
        finally:
            self._ready.set()
            try:
                loop.run_until_complete(loop.shutdown_asyncgens())
            finally:
                loop.close()

    async def _serve(self, on_ready: Callable[[str], None] | None) -> None:
        self._stop_event = asyncio.Event()
        server = await asyncio.start_server(
            self._handle, self.host, self.port, backlog=1024, limit=_MAX_HEADER_BYTES
        )
        self.port = server.sockets[0].getsockname()[1]
        self._ready.set()
        if on_ready is not None:
            on_ready(self.url)
        try:
            await self._stop_event.wait()
        finally:
            server.close()
            tasks = list(self._tasks)
            for task in tasks:
                task.cancel()
            if tasks:
                await asyncio.gather(*tasks, return_exceptions=True)
            await server.wait_closed()

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        if task is not None:
            self._tasks.add(task)
        abort = False
        try:
            while True:
                try:
                    request = await _read_request(reader)
                    if request is None:
                        break
                    method, path, headers, keep_alive = request
                    if headers.get("expect", "").lower() == "100-continue":
                        writer.write(b"HTTP/1.1 100 Continue\r\n\r\n")
                    body = await _read_body(reader, headers)
                except _BadRequest as exc:
                    status, payload, extra = _error(400, f"Malformed HTTP request: {exc}")
                    writer.write(_encode_response(status, payload, extra, False))
                    await writer.drain()
                    break
                result = await self._dispatch(method, path, body)
                if result is _DROP:
                    break
                if result is _RESET:
                    abort = True
                    break
                status, payload, extra = result
                writer.write(_encode_response(status, payload, extra, keep_alive))
                await writer.drain()
                if not keep_alive:
                    break
        except (ConnectionError, asyncio.IncompleteReadError, OSError):
            pass  # client went away
        except asyncio.CancelledError:
            # stop() cancels in-flight handlers. Finish quietly: Python 3.11's stream callback
            # calls task.exception() on the handler task, which would log a cancelled task.
            abort = True
        finally:
            if task is not None:
                self._tasks.discard(task)
            if abort:
                writer.transport.abort()
            else:
                writer.close()

    async def _dispatch(self, method: str, path: str, raw: bytes):
        if len(path) > 1:
            path = path.rstrip("/")
        if path in _COMPLETION_PATHS:
            if method != "POST":
                return _error(405, f"Method {method} not allowed", "invalid_request_error", "method_not_allowed")
            return await self._completion(raw)
        if path == "/_stats" and method == "GET":
            return 200, _json_bytes(self.stats()), {}
        if path == "/_log" and method == "GET":
            return 200, _json_bytes(self.log), {}
        if path == "/_reset" and method == "POST":
            self.reset()
            return 200, _json_bytes({"ok": True}), {}
        if path == "/_faults" and method == "POST":
            try:
                data = json.loads(raw or b"{}")
                faults = data.get("faults", []) if isinstance(data, dict) else None
                if isinstance(faults, str):
                    faults = [f for f in faults.split(",") if f.strip()]
                if not isinstance(faults, list):
                    raise ValueError('expected {"faults": [...]}')
                self.add_faults(*(str(f) for f in faults))
            except ValueError as exc:  # includes JSONDecodeError
                return _error(400, str(exc))
            return 200, _json_bytes({"ok": True, "faults_pending": len(self.pending_faults)}), {}
        return _error(404, f"Unknown endpoint {method} {path}", "invalid_request_error", "unknown_url")

    def _over_rpm(self) -> float | None:
        """Count this request in its minute; the seconds left in the minute if it is past rpm_limit."""
        now = time.time()
        minute = int(now // 60)
        with self._lock:
            if self.rpm_limit is not None and self._per_minute[minute] >= self.rpm_limit:
                self._requests += 1
                self._rate_limited += 1
                return 60 - now % 60
            self._per_minute[minute] += 1
            return None

    def _next_fault(self) -> str | None:
        with self._lock:
            self._requests += 1
            if self._faults:
                self._faults_served += 1
                return self._faults.popleft()
            return None

    async def _completion(self, raw: bytes):
        try:
            body = json.loads(raw) if raw else None
        except ValueError:
            body = None
        with self._lock:
            self._log.append(body if isinstance(body, dict) else {"_raw": raw.decode("utf-8", "replace")})
        wait = self._over_rpm()
        if wait is not None:
            status, payload, _ = _error(429, f"Rate limit reached: {self.rpm_limit} requests per minute.")
            return status, payload, {"Retry-After": str(max(1, int(wait + 0.999)))}
        fault = self._next_fault()
        name, _, param = (fault or "").partition(":")

        if name == "slow":
            await asyncio.sleep(float(param) if param else self.slow_seconds)
        elif self.latency > 0:
            await asyncio.sleep(self.latency)

        if name == "drop":
            return _DROP
        if name == "reset":
            return _RESET
        if name.isdigit():
            status, payload, extra = _error(int(name))
            if name == "429":
                extra = {"Retry-After": _fmt_seconds(float(param) if param else self.retry_after)}
            return status, payload, extra
        if not isinstance(body, dict):
            return _error(400, "We could not parse the JSON body of your request.")
        if not isinstance(body.get("messages"), list):
            return _error(400, "'messages' is a required property", code="missing_required_parameter")
        refusal = _FORMAT_RULES[self.formats](body.get("response_format"))
        if refusal is not None:
            return refusal

        if name in ("", "slow") and self.formats == "ignores" and "JSON schema" not in json.dumps(body["messages"]):
            content = "I would ship this tool: it looks useful and well made."
        elif name in ("", "slow"):
            content = self.make_content(body)
            if self.formats == "unconstrained" and not _strict(body.get("response_format")):
                content = self._sometimes_misfit(content)
        elif name == "non_json":
            content = "I think this tool is great"
        elif name == "truncated":
            full = json.dumps(self.make_verdict(body))
            content = full[: len(full) // 2]
        elif name == "fenced":
            content = "```json\n" + json.dumps(self.make_verdict(body), indent=2) + "\n```"
        elif name == "bad_schema":
            verdict = self.make_verdict(body)
            verdict.update(verdict="maybe", confidence=7)
            content = json.dumps(verdict)
        else:  # empty_choices
            content = None

        result = self._completion_response(body, content)
        with self._lock:
            self._completions += 1
        return result

    def _sometimes_misfit(self, content: str) -> str:
        """Every third answer without a strict schema: the verdict without its headline."""
        with self._lock:
            self._unconstrained += 1
            misfit = self._unconstrained % 3 == 0
        if not misfit:
            return content
        try:
            verdict = json.loads(content)
        except ValueError:
            return content
        verdict.pop("headline", None)
        return json.dumps(verdict)

    def _completion_response(self, body: dict, content: str | None):
        model = str(body.get("model") or "fake-model")
        prompt_chars = sum(
            len(message_text(m.get("content"))) for m in body["messages"] if isinstance(m, dict)
        )
        usage = {
            "prompt_tokens": max(1, prompt_chars // 4),
            "completion_tokens": len(content or "") // 4,
        }
        usage["total_tokens"] = usage["prompt_tokens"] + usage["completion_tokens"]
        ident = f"chatcmpl-fake{next(self._ids):08d}"
        created = int(time.time())

        if body.get("stream"):
            base = {"id": ident, "object": "chat.completion.chunk", "created": created, "model": model}
            events = []
            if content is None:
                events.append({**base, "choices": []})
            else:
                delta = {"role": "assistant", "content": content}
                events.append({**base, "choices": [{"index": 0, "delta": delta, "finish_reason": None}]})
                events.append({**base, "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]})
            if (body.get("stream_options") or {}).get("include_usage"):
                events.append({**base, "choices": [], "usage": usage})
            payload = b"".join(b"data: " + _json_bytes(e) + b"\n\n" for e in events) + b"data: [DONE]\n\n"
            return 200, payload, {"Content-Type": "text/event-stream", "Cache-Control": "no-cache"}

        choices = []
        if content is not None:
            choices.append(
                {
                    "index": 0,
                    "message": {"role": "assistant", "content": content},
                    "finish_reason": "stop",
                    "logprobs": None,
                }
            )
        response = {
            "id": ident,
            "object": "chat.completion",
            "created": created,
            "model": model,
            "system_fingerprint": "fp_fake_openai",
            "choices": choices,
            "usage": usage,
        }
        return 200, _json_bytes(response), {}


def _fmt_seconds(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else str(value)


def _check_fault(fault: str) -> str:
    fault = str(fault).strip()
    name, sep, param = fault.partition(":")
    if name not in FAULTS:
        raise ValueError(f"unknown fault {fault!r}; known: {', '.join(sorted(FAULTS))}")
    if sep:
        if name not in _PARAM_FAULTS:
            raise ValueError(f"fault {name!r} takes no parameter")
        try:
            if float(param) < 0:
                raise ValueError
        except ValueError:
            raise ValueError(f"fault {fault!r}: parameter must be a number of seconds >= 0") from None
    return fault


# --- command line ------------------------------------------------------------------------------


def _parse_rule(text: str) -> tuple[str, str]:
    substring, sep, verdict = text.rpartition("=")
    if not sep or not substring or verdict not in ("ship", "skip"):
        raise argparse.ArgumentTypeError(f"expected SUBSTRING=ship|skip, got {text!r}")
    return substring, verdict


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Fake OpenAI-compatible chat-completions server.")
    parser.add_argument("--latency", type=float, default=0.0, help="seconds to wait before each answer")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0, help="0 = pick a free port")
    parser.add_argument("--faults", default="", help="comma-separated fault queue, e.g. 429,500,drop")
    parser.add_argument("--rule", action="append", type=_parse_rule, default=[], metavar="SUBSTRING=VERDICT")
    parser.add_argument("--retry-after", type=float, default=1)
    parser.add_argument("--slow-seconds", type=float, default=30)
    parser.add_argument("--formats", default="all", choices=sorted(_FORMAT_RULES),
                        help="how response_format is treated (see the module docstring)")
    args = parser.parse_args(argv)
    try:
        server = FakeOpenAI(
            latency=args.latency,
            faults=[f for f in args.faults.split(",") if f.strip()],
            rules=args.rule,
            retry_after=args.retry_after,
            slow_seconds=args.slow_seconds,
            formats=args.formats,
            host=args.host,
            port=args.port,
        )
    except ValueError as exc:
        parser.error(str(exc))

    def ready(url: str) -> None:
        print(f"READY {url}", flush=True)

    server.serve_forever(on_ready=ready)
    return 0


if __name__ == "__main__":
    sys.exit(main())
