"""Local receivers for alert notifications: a minimal SMTP sink and a webhook receiver.

Both are plain asyncio servers on loopback, started on the test's event loop::

    async with SmtpSink() as smtp, WebhookReceiver() as hook:
        ...  # smtp.port, smtp.messages; hook.url, hook.requests
"""

from __future__ import annotations

import asyncio
import email
import email.policy
import json
from email.message import EmailMessage
from typing import Any


class _Server:
    def __init__(self) -> None:
        self.server: asyncio.Server | None = None
        self.port = 0
        self.received = asyncio.Event()

    async def __aenter__(self):
        self.server = await asyncio.start_server(self._handle, "127.0.0.1", 0)
        self.port = self.server.sockets[0].getsockname()[1]
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self.server is not None
        self.server.close()
        await self.server.wait_closed()

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        raise NotImplementedError


class SmtpSink(_Server):
    """Accepts every message (no TLS, no auth) and keeps it parsed in ``messages``."""

    def __init__(self) -> None:
        super().__init__()
        self.messages: list[EmailMessage] = []
        self.envelopes: list[dict[str, Any]] = []

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        async def say(line: str) -> None:
            writer.write(line.encode() + b"\r\n")
            await writer.drain()

        sender, recipients = "", []
        await say("220 sink ESMTP ready")
        try:
            while line := await reader.readline():
                command = line.decode().strip()
                verb = command.split(" ", 1)[0].upper()
                if verb == "EHLO":
                    await say("250-sink")
                    await say("250 8BITMIME")
                elif verb == "HELO" or verb in {"RSET", "NOOP"}:
                    await say("250 OK")
                elif verb == "MAIL":
                    sender, recipients = command.split(":", 1)[1].strip(), []
                    await say("250 OK")
                elif verb == "RCPT":
                    recipients.append(command.split(":", 1)[1].strip())
                    await say("250 OK")
                elif verb == "DATA":
                    await say("354 End data with <CR><LF>.<CR><LF>")
                    data = await reader.readuntil(b"\r\n.\r\n")
                    body = data[: -len(b"\r\n.\r\n")].replace(b"\r\n..", b"\r\n.")
                    self.messages.append(
                        email.message_from_bytes(body, policy=email.policy.default)  # type: ignore[arg-type]
                    )
                    self.envelopes.append({"from": sender, "to": recipients})
                    self.received.set()
                    await say("250 OK queued")
                elif verb == "QUIT":
                    await say("221 Bye")
                    break
                else:
                    await say("502 Command not implemented")
        finally:
            writer.close()


class WebhookReceiver(_Server):
    """Answers every HTTP request 200 and keeps its JSON body in ``requests``."""

    def __init__(self) -> None:
        super().__init__()
        self.requests: list[dict[str, Any]] = []

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/alerts"

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            head = await reader.readuntil(b"\r\n\r\n")
            length = 0
            for line in head.decode("latin-1").split("\r\n")[1:]:
                name, _, value = line.partition(":")
                if name.strip().lower() == "content-length":
                    length = int(value.strip())
            body = await reader.readexactly(length)
            self.requests.append(json.loads(body))
            self.received.set()
            writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
            await writer.drain()
        finally:
            writer.close()
