"""Connection-level defences of the HTTP server: slow or half-open clients, and running out of file descriptors.

Every open socket costs a file descriptor, and uvicorn waits for request headers as long as a client cares to take.
So here a connection that has not sent its request headers within ``header_timeout`` is closed, one client address
may hold only so many connections at once (trusted proxies excepted: they carry many clients), and when accepting
fails because the process is out of file descriptors that is logged once, not once per attempt, while the
connections already open go on being served.
"""

from __future__ import annotations

import asyncio
import logging
import resource
import time
from typing import Any

logger = logging.getLogger(__name__)

ACCEPT_OUT_OF_RESOURCES = "socket.accept() out of system resource"
TOO_MANY = (
    b"HTTP/1.1 429 Too Many Requests\r\ncontent-type: text/plain\r\nconnection: close\r\ncontent-length: %d\r\n\r\n%s"
)


class DescriptorExhaustion:
    """A loop exception handler: a run of failed accepts (none more than ``quiet`` s apart) is logged once."""

    def __init__(self, previous: Any, quiet: float = 60.0) -> None:
        self.previous = previous
        self.quiet = quiet
        self._last_failure: float | None = None

    def __call__(self, loop: asyncio.AbstractEventLoop, context: dict[str, Any]) -> None:
        if context.get("message") != ACCEPT_OUT_OF_RESOURCES:
            if self.previous is not None:
                self.previous(loop, context)
            else:
                loop.default_exception_handler(context)
            return
        now = time.monotonic()
        if self._last_failure is None or now - self._last_failure > self.quiet:
            limit = resource.getrlimit(resource.RLIMIT_NOFILE)[0]
            logger.error(
                "out of file descriptors (%d open at most; %s): new connections wait until some close, open ones "
                "are still served. Raise the limit (ulimit -n) or lower MCP_MEMORY_MAX_CONNECTIONS_PER_ADDRESS.",
                limit,
                context.get("exception"),
            )
        self._last_failure = now


def watch_descriptors() -> None:
    """Install the once-only report of descriptor exhaustion on the running loop, with the soft limit raised to
    the hard one first."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft != hard:
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
        except (ValueError, OSError) as exc:
            logger.info("cannot raise the open-file limit from %d to %d: %s", soft, hard, exc)
    loop = asyncio.get_running_loop()
    loop.set_exception_handler(DescriptorExhaustion(loop.get_exception_handler()))


def guarded_protocol(max_per_address: int, header_timeout: float, trusted: list[str]) -> type:
    """uvicorn's httptools protocol with a header timeout and a cap on connections per client address."""
    from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

    open_by_address: dict[str, int] = {}
    exempt = frozenset(trusted)

    class GuardedProtocol(HttpToolsProtocol):
        _counted: str | None = None
        _refused = False
        _header_timer: asyncio.TimerHandle | None = None

        def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
            super().connection_made(transport)
            address = self.client[0] if self.client else ""
            if address not in exempt:
                if open_by_address.get(address, 0) >= max_per_address:
                    text = (
                        f"{address} already has {max_per_address} open connections "
                        f"(MCP_MEMORY_MAX_CONNECTIONS_PER_ADDRESS). Close some or reuse them.\n"
                    ).encode()
                    # Answer, then read and drop what the client sends until it closes or the header timeout:
                    # closing with its request unread would reset the connection before it reads the answer.
                    transport.write(TOO_MANY % (len(text), text))
                    if transport.can_write_eof():
                        transport.write_eof()
                    self._refused = True
                    self._start_header_timer()
                    return
                open_by_address[address] = open_by_address.get(address, 0) + 1
                self._counted = address
            self._start_header_timer()

        def data_received(self, data: bytes) -> None:
            if not self._refused:
                super().data_received(data)

        def connection_lost(self, exc: Exception | None) -> None:
            self._stop_header_timer()
            if self._counted is not None:
                left = open_by_address.get(self._counted, 1) - 1
                if left > 0:
                    open_by_address[self._counted] = left
                else:
                    open_by_address.pop(self._counted, None)
                self._counted = None
            super().connection_lost(exc)

        def on_message_begin(self) -> None:
            super().on_message_begin()
            if self._header_timer is None:
                self._start_header_timer()

        def on_headers_complete(self) -> None:
            self._stop_header_timer()
            super().on_headers_complete()

        def _start_header_timer(self) -> None:
            self._header_timer = self.loop.call_later(header_timeout, self._headers_too_slow)

        def _stop_header_timer(self) -> None:
            if self._header_timer is not None:
                self._header_timer.cancel()
                self._header_timer = None

        def _headers_too_slow(self) -> None:
            self._header_timer = None
            if not self.transport.is_closing():
                self.transport.close()

    return GuardedProtocol
