"""A small HTTP server on 127.0.0.1 for tests: serves a folder, records the paths asked for, and is
always stopped (bounded by the ``with`` block; each connection times out)."""

from __future__ import annotations

import contextlib
import functools
import http.server
import threading
from pathlib import Path


class _Handler(http.server.SimpleHTTPRequestHandler):
    timeout = 30  # seconds a connection may stay idle

    def __init__(self, *args, requests: list[str], **kwargs) -> None:
        self._requests = requests
        super().__init__(*args, **kwargs)

    def do_GET(self) -> None:  # noqa: N802 - the http.server API
        self._requests.append(self.path)
        super().do_GET()

    def log_message(self, *args) -> None:  # silence the access log
        pass


@contextlib.contextmanager
def serve(directory: Path, requests: list[str] | None = None):
    """Serve ``directory`` on 127.0.0.1 (a free port) for the ``with`` block; yields the base URL.

    Args:
        directory: the folder served.
        requests: if given, every GET path is appended to it.
    """
    handler = functools.partial(_Handler, directory=str(directory), requests=requests if requests is not None else [])
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)
