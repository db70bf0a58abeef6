"""The live view: a page on 127.0.0.1 that draws true and decoded velocity and a 2-D cursor.

A small HTTP server in a background thread serves ``view.html`` and a Server-Sent Events stream
(``/events``): every 50 ms the decoded bins since the last message, with their true velocity,
cursor and target, and once a second the figures of stream.json over the last
:data:`~bmi_decoder.live.results.WINDOW_S` seconds (``event: stats``). Server-Sent
Events need nothing but the browser's ``EventSource``; the page draws on canvases.
"""

from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from bmi_decoder.live.results import WINDOW_S
from snn_core.errors import InputError

PAGE = Path(__file__).with_name("view.html")
HOST = "127.0.0.1"
PUSH_PERIOD_S = 0.05
STATS_EVERY = 20  # pushes, i.e. once a second


class LiveView:
    """Serve the view of ``source`` (a :class:`~bmi_decoder.live.stream.LiveDecoder`) on 127.0.0.1.

    Args:
        source: gives ``rows_since(n)`` and ``stats(window_s)``.
        port: the TCP port (0: any free one; :attr:`url` tells which).
    """

    def __init__(self, source, port: int = 8765) -> None:
        self.source = source
        page = PAGE.read_bytes()
        view = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args) -> None:  # the terminal belongs to the stream's messages
                pass

            def do_GET(self) -> None:
                if self.path in ("/", "/index.html"):
                    self._send(200, "text/html; charset=utf-8", page)
                elif self.path == "/events":
                    self._events()
                else:
                    self._send(404, "text/plain", b"not found\n")

            def _send(self, status: int, kind: str, body: bytes) -> None:
                self.send_response(status)
                self.send_header("Content-Type", kind)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def _events(self) -> None:
                self.send_response(200)
                self.send_header("Content-Type", "text/event-stream")
                self.send_header("Cache-Control", "no-cache")
                self.end_headers()
                sent, tick = 0, 0
                try:
                    while not view.closed:
                        rows = view.source.rows_since(sent)
                        if rows:
                            sent += len(rows)
                            self.wfile.write(f"data: {json.dumps(rows)}\n\n".encode())
                        if tick % STATS_EVERY == 0:
                            self.wfile.write(f"event: stats\ndata: {json.dumps(view.source.stats(WINDOW_S))}\n\n".encode())
                        self.wfile.flush()
                        tick += 1
                        time.sleep(PUSH_PERIOD_S)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the browser left

        try:
            self.server = ThreadingHTTPServer((HOST, port), Handler)
        except OSError as err:
            raise InputError("command line", "--port", f"a free TCP port on {HOST} ({err.strerror})") from None
        self.server.daemon_threads = True
        self.closed = False
        self.thread = threading.Thread(target=self.server.serve_forever, name="live-view", daemon=True)

    @property
    def url(self) -> str:
        return f"http://{HOST}:{self.server.server_address[1]}/"

    def start(self) -> None:
        self.thread.start()

    def close(self) -> None:
        self.closed = True
        self.server.shutdown()
        self.server.server_close()
