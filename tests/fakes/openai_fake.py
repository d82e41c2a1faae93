"""A real-HTTP fake of the OpenAI chat-completions / embeddings protocol.

Tests point the real ``ChatOpenAI`` / ``OpenAIEmbeddings`` clients at ``FakeOpenAI.base_url``;
nothing in the client is mocked. The server is a raw ASGI app served by hypercorn on loopback in a
background thread with its own event loop, so one instance can outlive every test's event loop.

Scripting (all thread-safe)::

    fake.reply("SELECT 1")                           # FIFO, one chat reply each
    fake.reply_tool_call("run_sql", {"sql": "SELECT 1"})
    fake.fail(500)                                   # one HTTP error
    fake.hang(5.0)                                   # one reply after 5 s (timeout tests)
    fake.reject_key(401)                             # every request fails, quoting the API key
    fake.when("classify", "data_query")              # rule, used when the FIFO is empty
    fake.default_reply = "好的"                      # when nothing else applies

As a script (benchmarks)::

    python tests/fakes/openai_fake.py --port 8765 --latency 0.5

Demo mode (a scripted stand-in answering citu's own prompts, see ``fakes/demo_llm.py``)::

    cd tests && python -m fakes.openai_fake --demo --port 8765     # or: citu fake-llm --demo
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import contextlib
import hashlib
import itertools
import json
import logging
import re
import signal
import socket
import threading
import time
import traceback
import unicodedata
from collections import deque
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import pytest
from hypercorn.asyncio import serve
from hypercorn.config import Config

log = logging.getLogger("fakes.openai_fake")

Endpoint = Literal["chat", "embeddings"]
Json = dict[str, Any]
Receive = Callable[[], Awaitable[Json]]
Send = Callable[[Json], Awaitable[None]]

DEFAULT_REPLY = "好的"
DEFAULT_EMBEDDING_DIM = 1024
STREAM_CONTENT_CHUNK = 4  # characters per streamed content delta
STREAM_ARGS_CHUNK = 8  # characters per streamed tool-call arguments delta


# --------------------------------------------------------------------------------------------
# Deterministic embeddings
# --------------------------------------------------------------------------------------------


def _normalise_text(text: str) -> str:
    # NFKC folds full-width forms (？ -> ?); punctuation acts as a separator so "多少？" == "多少".
    text = unicodedata.normalize("NFKC", text).lower()
    text = "".join(" " if unicodedata.category(ch).startswith("P") else ch for ch in text)
    return re.sub(r"\s+", " ", text).strip()


def _ngrams(text: str) -> Iterator[str]:
    for n in (1, 2, 3):
        for i in range(len(text) - n + 1):
            gram = text[i : i + n]
            if not gram.strip():  # a lone space carries no signal
                continue
            if n == 1 and gram.isascii():  # single Latin letters make all English look alike
                continue
            yield gram
    for word in text.split():  # whole Latin words stand in for the skipped unigrams
        if word.isascii() and len(word) > 1:
            yield "w:" + word


def fake_embedding(text: str, dim: int = DEFAULT_EMBEDDING_DIM) -> list[float]:
    """Hashed character n-grams, L2-normalised: 1-3-grams of non-ASCII text (Chinese), 2-3-grams
    plus whole words of ASCII text (single Latin letters would make all English look alike).

    Stable across processes (blake2b, not ``hash()``). Near-identical texts get cosine close to 1,
    unrelated ones close to 0. Signed hashing keeps collisions from biasing cosine upwards.
    """
    if dim <= 0:
        raise ValueError("dim must be positive")
    vec = np.zeros(dim, dtype=np.float64)
    grams = list(_ngrams(_normalise_text(text))) or ["\x00empty"]
    for gram in grams:
        h = int.from_bytes(hashlib.blake2b(gram.encode(), digest_size=8).digest(), "little")
        vec[h % dim] += 1.0 if (h >> 63) & 1 else -1.0
    norm = float(np.linalg.norm(vec))
    if norm == 0.0:  # all grams cancelled out (possible only for tiny dims)
        vec[0], norm = 1.0, 1.0
    return (vec / norm).tolist()


# --------------------------------------------------------------------------------------------
# Scripted replies
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ToolCall:
    name: str
    arguments: dict[str, Any] | str  # a str is sent verbatim (lets tests send malformed JSON)
    id: str | None = None


@dataclass(frozen=True)
class Reply:
    """One scripted response. ``status != 200`` makes it an HTTP error with ``error_body``."""

    content: str = ""
    tool_calls: tuple[ToolCall, ...] = ()
    status: int = 200
    error_body: Any = None
    delay: float = 0.0


ReplySpec = str | dict[str, Any] | Reply | ToolCall
RuleMatch = str | Callable[[list[Json]], bool]
RuleReply = ReplySpec | Callable[[Json], ReplySpec]


def _tool_call_from(spec: ToolCall | dict[str, Any]) -> ToolCall:
    if isinstance(spec, ToolCall):
        return spec
    return ToolCall(name=spec["name"], arguments=spec.get("arguments", {}), id=spec.get("id"))


def to_reply(spec: ReplySpec) -> Reply:
    """Normalise a reply spec.

    Accepted: a ``str`` (content), a ``Reply``, a ``ToolCall``, or a dict with any of
    ``content``, ``tool_call`` ({name, arguments, id?}), ``tool_calls`` (list of those),
    ``status``, ``body``, ``delay``.
    """
    if isinstance(spec, Reply):
        return spec
    if isinstance(spec, str):
        return Reply(content=spec)
    if isinstance(spec, ToolCall):
        return Reply(tool_calls=(spec,))
    if isinstance(spec, dict):
        calls = [_tool_call_from(c) for c in spec.get("tool_calls", [])]
        if "tool_call" in spec:
            calls.append(_tool_call_from(spec["tool_call"]))
        return Reply(
            content=spec.get("content") or "",
            tool_calls=tuple(calls),
            status=int(spec.get("status", 200)),
            error_body=spec.get("body"),
            delay=float(spec.get("delay", 0.0)),
        )
    raise TypeError(f"unsupported reply spec: {spec!r}")


@dataclass(frozen=True)
class _Rule:
    match: RuleMatch
    reply: RuleReply

    def matches(self, messages: list[Json]) -> bool:
        if callable(self.match):
            return bool(self.match(messages))
        return self.match in messages_text(messages)


def messages_text(messages: list[Json]) -> str:
    """All message contents (system, user, assistant, tool) joined by newlines."""
    parts: list[str] = []
    for message in messages:
        content = message.get("content")
        if isinstance(content, str):
            parts.append(content)
        elif isinstance(content, list):  # content parts: [{"type": "text", "text": ...}, ...]
            parts.extend(p.get("text", "") for p in content if isinstance(p, dict))
    return "\n".join(parts)


def _approx_tokens(text: str) -> int:
    return max(1, len(text) // 2) if text else 0


# --------------------------------------------------------------------------------------------
# The server
# --------------------------------------------------------------------------------------------


class FakeOpenAI:
    """OpenAI-compatible HTTP fake. See the module docstring for the scripting API."""

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 0,
        *,
        default_reply: str = DEFAULT_REPLY,
        embedding_dim: int = DEFAULT_EMBEDDING_DIM,
        latency: float = 0.0,
        keep_alive: bool = False,
    ) -> None:
        self.host = host
        # Off by default: langchain-openai caches one httpx client per (base_url, timeout) for
        # the whole process, so a pooled connection opened on one test's event loop would be
        # reused (and explode) on the next test's loop. ``Connection: close`` keeps pools empty.
        self.keep_alive = keep_alive
        self._requested_port = port
        self._port: int | None = None
        self._initial = (default_reply, embedding_dim)
        # Plain attributes: single assignments are atomic, the server reads them per request.
        self.default_reply = default_reply
        self.embedding_dim = embedding_dim
        self.latency = latency  # seconds added before every response
        self.chunk_delay = 0.0  # seconds between streamed chunks
        # When set, every chat and embeddings request answers this status with a message that
        # quotes the caller's bearer key, as some providers do on 401.
        self.rejecting: int | None = None

        self._lock = threading.Lock()
        self._queues: dict[Endpoint, deque[Reply]] = {"chat": deque(), "embeddings": deque()}
        self._rules: list[_Rule] = []
        self._requests: list[Json] = []
        self._embedding_requests: list[Json] = []
        self._ids = itertools.count(1)

        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._shutdown: asyncio.Event | None = None
        self._ready = threading.Event()
        self._error: BaseException | None = None

    # ---- scripting ------------------------------------------------------------------------

    def reply(self, content: str) -> None:
        """Queue one plain chat reply (FIFO, consumed before any rule)."""
        self._push("chat", Reply(content=content))

    def reply_tool_call(
        self, name: str, arguments: dict[str, Any] | str, call_id: str | None = None
    ) -> None:
        """Queue one chat reply that calls tool ``name`` with ``arguments``."""
        self._push("chat", Reply(tool_calls=(ToolCall(name, arguments, call_id),)))

    def push(self, spec: ReplySpec, endpoint: Endpoint = "chat") -> None:
        """Queue any reply spec (see ``to_reply``), e.g. content plus several tool calls."""
        self._push(endpoint, to_reply(spec))

    def fail(self, status: int = 500, body: Any = None, *, endpoint: Endpoint = "chat") -> None:
        """Queue one HTTP error. The openai client retries 5xx/429 unless ``max_retries=0``,
        and every retry consumes a queued entry."""
        self._push(endpoint, Reply(status=status, error_body=body))

    def hang(
        self, seconds: float, content: str | None = None, *, endpoint: Endpoint = "chat"
    ) -> None:
        """Queue one reply sent after ``seconds`` (content defaults to ``default_reply``).
        The wait ends early if the client disconnects, so timed-out requests don't linger."""
        text = self.default_reply if content is None else content
        self._push(endpoint, Reply(content=text, delay=seconds))

    def reject_key(self, status: int = 401) -> None:
        """Answer every chat/embeddings request with ``status`` and a body quoting the key sent
        in ``Authorization`` (until ``reset``), like a provider that echoes a rejected key."""
        self.rejecting = status

    def when(self, match: RuleMatch, reply: RuleReply) -> None:
        """Add a rule used when the FIFO queue is empty; the first matching rule wins.

        ``match``: substring of the request's message text (all messages joined), or a callable
        taking the request's ``messages`` list. ``reply``: a reply spec, or a callable taking the
        request JSON and returning one. Callables run on the server thread.
        """
        with self._lock:
            self._rules.append(_Rule(match, reply))

    def reset(self) -> None:
        """Clear queues, rules, records, latency; restore default_reply/embedding_dim."""
        with self._lock:
            for queue in self._queues.values():
                queue.clear()
            self._rules.clear()
            self._requests.clear()
            self._embedding_requests.clear()
            self.default_reply, self.embedding_dim = self._initial
            self.latency = 0.0
            self.chunk_delay = 0.0
            self.rejecting = None

    # ---- records --------------------------------------------------------------------------

    @property
    def requests(self) -> list[Json]:
        """Snapshot of received chat-completion request bodies, oldest first."""
        with self._lock:
            return list(self._requests)

    @property
    def embedding_requests(self) -> list[Json]:
        """Snapshot of received embeddings request bodies, oldest first."""
        with self._lock:
            return list(self._embedding_requests)

    @property
    def last_request(self) -> Json:
        with self._lock:
            if not self._requests:
                raise LookupError("no chat request received")
            return self._requests[-1]

    def _push(self, endpoint: Endpoint, reply: Reply) -> None:
        with self._lock:
            self._queues[endpoint].append(reply)

    # ---- lifecycle ------------------------------------------------------------------------

    @property
    def port(self) -> int:
        if self._port is None:
            raise RuntimeError("FakeOpenAI is not started")
        return self._port

    @property
    def base_url(self) -> str:
        return f"http://{self.host}:{self.port}/v1"

    def start(self, timeout: float = 10.0) -> FakeOpenAI:
        """Serve in a daemon thread with its own event loop; returns once accepting."""
        if self._thread is not None:
            raise RuntimeError("already started")
        sock = self._bind()
        self._ready.clear()
        self._error = None
        self._thread = threading.Thread(
            target=lambda: asyncio.run(self._serve_socket(sock)),
            name=f"openai-fake:{self._port}",
            daemon=True,
        )
        self._thread.start()
        if not self._ready.wait(timeout) or self._error is not None:
            self.stop()
            raise RuntimeError(f"FakeOpenAI failed to start: {self._error!r}")
        return self

    def stop(self, timeout: float = 10.0) -> None:
        loop, shutdown, thread = self._loop, self._shutdown, self._thread
        if loop is not None and shutdown is not None and not loop.is_closed():
            with contextlib.suppress(RuntimeError):  # loop closed in between
                loop.call_soon_threadsafe(shutdown.set)
        if thread is not None:
            thread.join(timeout)
        self._thread = self._loop = self._shutdown = None
        self._port = None

    def __enter__(self) -> FakeOpenAI:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _bind(self) -> socket.socket:
        # Bind and listen ourselves so port 0 works without a race, and connections made right
        # after start() queue in the backlog; hypercorn adopts the socket via fd://.
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((self.host, self._requested_port))
        sock.listen(1024)
        self._port = sock.getsockname()[1]
        return sock

    async def serve_forever(self, shutdown_trigger: Callable[[], Awaitable[Any]]) -> None:
        """Serve on the calling event loop until ``shutdown_trigger`` returns (used by main)."""
        sock = self._bind()
        log.info("fake OpenAI serving at %s", self.base_url)
        await self._serve_socket(sock, shutdown_trigger)

    async def _serve_socket(
        self, sock: socket.socket, shutdown_trigger: Callable[[], Awaitable[Any]] | None = None
    ) -> None:
        self._loop = asyncio.get_running_loop()
        self._shutdown = asyncio.Event()
        config = Config()
        config.bind = [f"fd://{sock.detach()}"]  # hypercorn now owns the descriptor
        # asyncio listens again with this backlog (default 100): a burst of 200 connections
        # would lose SYNs and stall a second for the retransmission.
        config.backlog = 1024
        config.graceful_timeout = 1.0
        config.keep_alive_timeout = 30.0
        config.errorlog = log
        config.accesslog = None
        trigger = shutdown_trigger or self._shutdown.wait
        try:
            await serve(self._asgi, config, shutdown_trigger=trigger)  # type: ignore[arg-type]
        except BaseException as exc:
            self._error = exc
            self._ready.set()
            raise

    # ---- ASGI -----------------------------------------------------------------------------

    async def _asgi(self, scope: Json, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            while True:
                message = await receive()
                if message["type"] == "lifespan.startup":
                    await send({"type": "lifespan.startup.complete"})
                    self._ready.set()
                elif message["type"] == "lifespan.shutdown":
                    await send({"type": "lifespan.shutdown.complete"})
                    return
        if scope["type"] != "http":
            return
        if not self.keep_alive:
            send = _closing(send)
        method, path = scope["method"], scope["path"].rstrip("/")
        rejecting = self.rejecting
        if rejecting is not None and path in ("/v1/chat/completions", "/v1/embeddings"):
            await _read_json(receive)
            await _send_error(send, rejecting, _key_quoting_message(scope), "invalid_api_key")
            return
        try:
            if method == "POST" and path == "/v1/chat/completions":
                await self._chat(await _read_json(receive), receive, send)
            elif method == "POST" and path == "/v1/embeddings":
                await self._embeddings(await _read_json(receive), receive, send)
            elif method == "GET" and path == "/v1/models":
                await self._sleep(self.latency, receive)
                await _send_json(send, 200, self._models())
            else:
                await _send_error(send, 404, f"no route for {method} {path}", "not_found")
        except _BadRequest as exc:
            await _send_error(send, 400, str(exc), "invalid_request_error")
        except Exception as exc:  # a broken test callable should be visible, not a hang
            log.exception("fake OpenAI handler failed")
            detail = "".join(traceback.format_exception_only(exc)).strip()
            await _send_error(send, 500, f"fake handler error: {detail}", "server_error")

    async def _chat(self, body: Json, receive: Receive, send: Send) -> None:
        messages = body.get("messages")
        if not isinstance(messages, list):
            raise _BadRequest("'messages' must be a list")
        with self._lock:
            self._requests.append(body)
            queued = self._queues["chat"].popleft() if self._queues["chat"] else None
            rules = list(self._rules)
        if queued is not None:
            reply = queued
        else:
            rule = next((r for r in rules if r.matches(messages)), None)
            if rule is None:
                reply = Reply(content=self.default_reply)
            else:
                spec = rule.reply(body) if callable(rule.reply) else rule.reply
                reply = to_reply(spec)

        if await self._sleep(self.latency + reply.delay, receive):
            return  # client gave up (timeout test); nobody to answer
        if reply.status != 200 or reply.error_body is not None:  # fail(200, body): garbage
            await _send_error(send, reply.status, reply.error_body, "server_error")
            return
        model = str(body.get("model", "fake"))
        prompt_tokens = _approx_tokens(messages_text(messages))
        if body.get("stream"):
            include_usage = bool((body.get("stream_options") or {}).get("include_usage"))
            await self._stream(send, receive, reply, model, prompt_tokens, include_usage)
        else:
            await _send_json(send, 200, self._completion(reply, model, prompt_tokens))

    def _tool_calls_json(self, reply: Reply) -> list[Json]:
        calls = []
        for call in reply.tool_calls:
            args = call.arguments
            calls.append(
                {
                    "id": call.id or f"call_{next(self._ids):06d}",
                    "type": "function",
                    "function": {
                        "name": call.name,
                        "arguments": args
                        if isinstance(args, str)
                        else json.dumps(args, ensure_ascii=False),
                    },
                }
            )
        return calls

    def _completion(self, reply: Reply, model: str, prompt_tokens: int) -> Json:
        message: Json = {"role": "assistant", "content": reply.content or None}
        if reply.tool_calls:
            message["tool_calls"] = self._tool_calls_json(reply)
        completion_tokens = _approx_tokens(reply.content) + 8 * len(reply.tool_calls)
        return {
            "id": f"chatcmpl-fake{next(self._ids):06d}",
            "object": "chat.completion",
            "created": int(time.time()),
            "model": model,
            "choices": [
                {
                    "index": 0,
                    "message": message,
                    "logprobs": None,
                    "finish_reason": "tool_calls" if reply.tool_calls else "stop",
                }
            ],
            "usage": _usage(prompt_tokens, completion_tokens),
        }

    async def _stream(
        self,
        send: Send,
        receive: Receive,
        reply: Reply,
        model: str,
        prompt_tokens: int,
        include_usage: bool,
    ) -> None:
        base = {
            "id": f"chatcmpl-fake{next(self._ids):06d}",
            "object": "chat.completion.chunk",
            "created": int(time.time()),
            "model": model,
        }

        def chunk(delta: Json, finish_reason: str | None = None) -> Json:
            choice = {"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish_reason}
            return {**base, "choices": [choice]}

        events: list[Json] = [chunk({"role": "assistant", "content": ""})]
        text = reply.content
        for i in range(0, len(text), STREAM_CONTENT_CHUNK):
            events.append(chunk({"content": text[i : i + STREAM_CONTENT_CHUNK]}))
        for index, call in enumerate(self._tool_calls_json(reply)):
            # First delta names the call; later ones carry only argument pieces. Every piece
            # carries ``index`` so the client merges them into one call.
            head = {"index": index, "id": call["id"], "type": "function"}
            head["function"] = {"name": call["function"]["name"], "arguments": ""}
            events.append(chunk({"tool_calls": [head]}))
            args = call["function"]["arguments"]
            for i in range(0, len(args), STREAM_ARGS_CHUNK):
                piece = {"index": index, "function": {"arguments": args[i : i + STREAM_ARGS_CHUNK]}}
                events.append(chunk({"tool_calls": [piece]}))
        events.append(chunk({}, "tool_calls" if reply.tool_calls else "stop"))
        if include_usage:
            completion_tokens = _approx_tokens(text) + 8 * len(reply.tool_calls)
            events.append(
                {**base, "choices": [], "usage": _usage(prompt_tokens, completion_tokens)}
            )

        await send(
            {
                "type": "http.response.start",
                "status": 200,
                "headers": [
                    (b"content-type", b"text/event-stream; charset=utf-8"),
                    (b"cache-control", b"no-cache"),
                ],
            }
        )
        for event in events:
            data = json.dumps(event, ensure_ascii=False)
            await send(
                {
                    "type": "http.response.body",
                    "body": f"data: {data}\n\n".encode(),
                    "more_body": True,
                }
            )
            if self.chunk_delay and await self._sleep(self.chunk_delay, receive):
                return
        await send({"type": "http.response.body", "body": b"data: [DONE]\n\n", "more_body": False})

    async def _embeddings(self, body: Json, receive: Receive, send: Send) -> None:
        texts = _embedding_inputs(body.get("input"))
        dim = body.get("dimensions") or self.embedding_dim
        if not isinstance(dim, int) or dim <= 0:
            raise _BadRequest("'dimensions' must be a positive integer")
        with self._lock:
            self._embedding_requests.append(body)
            queue = self._queues["embeddings"]
            queued = queue.popleft() if queue else None
        if await self._sleep(self.latency + (queued.delay if queued else 0.0), receive):
            return
        if queued is not None and queued.status != 200:
            await _send_error(send, queued.status, queued.error_body, "server_error")
            return
        # The openai client asks for base64 (little-endian float32) unless told otherwise.
        as_base64 = body.get("encoding_format") == "base64"
        data = []
        for i, text in enumerate(texts):
            vec = fake_embedding(text, dim)
            encoded: Any = (
                base64.b64encode(np.asarray(vec, dtype="<f4").tobytes()).decode()
                if as_base64
                else vec
            )
            data.append({"object": "embedding", "index": i, "embedding": encoded})
        tokens = sum(_approx_tokens(t) for t in texts)
        payload = {
            "object": "list",
            "data": data,
            "model": str(body.get("model", "fake-emb")),
            "usage": {"prompt_tokens": tokens, "total_tokens": tokens},
        }
        await _send_json(send, 200, payload)

    def _models(self) -> Json:
        created = int(time.time())
        ids = ("fake", "fake-emb")
        return {
            "object": "list",
            "data": [
                {"id": m, "object": "model", "created": created, "owned_by": "citu-fake"}
                for m in ids
            ],
        }

    async def _sleep(self, seconds: float, receive: Receive) -> bool:
        """Sleep, but return True early if the client disconnects meanwhile."""
        if seconds <= 0:
            return False
        waiter = asyncio.ensure_future(_wait_disconnect(receive))
        try:
            done, _ = await asyncio.wait({waiter}, timeout=seconds)
            return bool(done)
        finally:
            waiter.cancel()


# --------------------------------------------------------------------------------------------
# ASGI helpers
# --------------------------------------------------------------------------------------------


class _BadRequest(Exception):
    pass


async def _read_json(receive: Receive) -> Json:
    chunks: list[bytes] = []
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            raise _BadRequest("client disconnected")
        chunks.append(message.get("body", b""))
        if not message.get("more_body"):
            break
    try:
        body = json.loads(b"".join(chunks) or b"{}")
    except json.JSONDecodeError as exc:
        raise _BadRequest(f"invalid JSON body: {exc}") from None
    if not isinstance(body, dict):
        raise _BadRequest("JSON body must be an object")
    return body


async def _wait_disconnect(receive: Receive) -> None:
    while (await receive())["type"] != "http.disconnect":
        pass


def _closing(send: Send) -> Send:
    async def wrapped(message: Json) -> None:
        if message["type"] == "http.response.start":
            message = {
                **message,
                "headers": [*message.get("headers", []), (b"connection", b"close")],
            }
        await send(message)

    return wrapped


async def _send_json(send: Send, status: int, payload: Any) -> None:
    body = json.dumps(payload, ensure_ascii=False).encode()
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})


async def _send_error(send: Send, status: int, body: Any, error_type: str) -> None:
    if body is None or isinstance(body, str):  # wrap into OpenAI's error envelope
        message = body or f"fake error {status}"
        body = {"error": {"message": message, "type": error_type, "param": None, "code": None}}
    await _send_json(send, status, body)


def _key_quoting_message(scope: Json) -> str:
    headers = {k.decode().lower(): v.decode() for k, v in scope.get("headers", [])}
    key = headers.get("authorization", "").removeprefix("Bearer ").strip()
    return (
        f"Incorrect API key provided: {key}. You can find your API key at "
        f"https://platform.example/account/api-keys. (api_key={key}; Authorization: Bearer {key})"
    )


def _embedding_inputs(raw: Any) -> list[str]:
    if isinstance(raw, str):
        return [raw]
    if isinstance(raw, list) and raw:
        if all(isinstance(x, str) for x in raw):
            return list(raw)
        if all(isinstance(x, int) for x in raw):  # one token array
            return [" ".join(map(str, raw))]
        if all(isinstance(x, list) for x in raw):  # several token arrays
            return [" ".join(map(str, x)) for x in raw]
    raise _BadRequest("'input' must be a string, a list of strings, or token arrays")


def _usage(prompt_tokens: int, completion_tokens: int) -> Json:
    return {
        "prompt_tokens": prompt_tokens,
        "completion_tokens": completion_tokens,
        "total_tokens": prompt_tokens + completion_tokens,
    }


# --------------------------------------------------------------------------------------------
# pytest fixtures (conftest: ``from fakes.openai_fake import openai_fake_server, fake_llm``)
# --------------------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def openai_fake_server() -> Iterator[FakeOpenAI]:
    """One fake server for the whole session (its own thread and loop)."""
    fake = FakeOpenAI().start()
    try:
        yield fake
    finally:
        fake.stop()


@pytest.fixture
def fake_llm(openai_fake_server: FakeOpenAI) -> Iterator[FakeOpenAI]:
    """The session server, reset before (and after) each test."""
    openai_fake_server.reset()
    yield openai_fake_server
    openai_fake_server.reset()


# --------------------------------------------------------------------------------------------
# Foreground server for benchmarks
# --------------------------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Fake OpenAI-compatible server for benchmarks")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8765)
    parser.add_argument("--latency", type=float, default=0.0, help="seconds added per response")
    parser.add_argument("--reply", default=DEFAULT_REPLY, help="content of every chat reply")
    parser.add_argument("--dim", type=int, default=DEFAULT_EMBEDDING_DIM, help="embedding size")
    parser.add_argument(
        "--keep-alive",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="reuse connections (a long-lived service on one event loop does)",
    )
    parser.add_argument(
        "--demo",
        action="store_true",
        help="scripted demo mode: answer citu's prompts (curated demo questions, ReAct, pipeline)",
    )
    parser.add_argument(
        "--demo-overrides",
        metavar="FILE",
        help="with --demo: JSON object question -> SQL answered instead of the curated SQL",
    )
    args = parser.parse_args(argv)

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    fake = FakeOpenAI(
        args.host,
        args.port,
        default_reply=args.reply,
        embedding_dim=args.dim,
        latency=args.latency,
        keep_alive=args.keep_alive,
    )
    if args.demo:
        if not __package__:  # run as a file: make the ``fakes`` package importable
            import sys
            from pathlib import Path

            sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
        from fakes.demo_llm import install_demo_mode, load_overrides

        overrides = load_overrides(args.demo_overrides) if args.demo_overrides else None
        script = install_demo_mode(fake, overrides)
        log.info("demo mode: %d known questions", len(script.sql_by_question))

    async def run() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        await fake.serve_forever(stop.wait)

    asyncio.run(run())


if __name__ == "__main__":
    main()
