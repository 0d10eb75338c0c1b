"""A tiny stand-in for Keras' download server, on 127.0.0.1, for the download tests.

``FakeKerasServer`` serves a small but well-formed ``mnist.npz`` (uint8 28x28 images, labels
0-9) at these paths:

- ``/mnist.npz``: the whole file, with its Content-Length;
- ``/stall/mnist.npz``: the first ``STALL_AT`` bytes, then nothing until ``release`` is set
  (at most 20 s), then the rest: a download to cancel halfway;
- ``/short/mnist.npz``: announces the whole length, sends half and closes: a cut connection;
- anything else: HTTP 404.

Loaded by path: the tests run with ``--import-mode=importlib``.
"""

from __future__ import annotations

import hashlib
import http.server
import io
import socket
import threading

import numpy as np

STALL_AT = 70_000


def fake_mnist_bytes(n_train: int = 200, n_test: int = 20, seed: int = 0) -> bytes:
    """An ``mnist.npz`` as Keras' has it (keys ``x_train y_train x_test y_test``), small."""
    rng = np.random.default_rng(seed)
    buffer = io.BytesIO()
    np.savez(
        buffer,
        x_train=rng.integers(0, 256, (n_train, 28, 28), dtype=np.uint8),
        y_train=(np.arange(n_train) % 10).astype(np.uint8),
        x_test=rng.integers(0, 256, (n_test, 28, 28), dtype=np.uint8),
        y_test=(np.arange(n_test) % 10).astype(np.uint8),
    )
    return buffer.getvalue()


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def closed_port_url() -> str:
    """A URL on 127.0.0.1 where nothing listens (connection refused)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    return f"http://127.0.0.1:{port}/mnist.npz"


class FakeKerasServer:
    """``with FakeKerasServer() as server: server.url("/mnist.npz")``."""

    def __init__(self, body: bytes | None = None) -> None:
        self.body = body if body is not None else fake_mnist_bytes()
        self.sha256 = sha256(self.body)
        self.release = threading.Event()
        self.requests: list[str] = []
        owner = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def log_message(self, *args) -> None:  # quiet
                pass

            def do_GET(self) -> None:  # noqa: N802 (http.server's name)
                owner.requests.append(self.path)
                body = owner.body
                if self.path not in ("/mnist.npz", "/stall/mnist.npz", "/short/mnist.npz"):
                    self.send_error(404, "Not Found")
                    return
                self.send_response(200)
                self.send_header("Content-Type", "application/octet-stream")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                try:
                    if self.path == "/mnist.npz":
                        self.wfile.write(body)
                    elif self.path == "/stall/mnist.npz":
                        self.wfile.write(body[:STALL_AT])
                        self.wfile.flush()
                        owner.release.wait(20)
                        self.wfile.write(body[STALL_AT:])
                    else:
                        self.wfile.write(body[: len(body) // 2])
                        self.wfile.flush()
                        self.close_connection = True
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client went away: what a cancel does

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.thread = threading.Thread(
            target=self.httpd.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
        )

    def url(self, path: str = "/mnist.npz") -> str:
        return f"http://127.0.0.1:{self.httpd.server_address[1]}{path}"

    def __enter__(self) -> FakeKerasServer:
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.release.set()
        self.httpd.shutdown()
        self.httpd.server_close()
        self.thread.join(5)
