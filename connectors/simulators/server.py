"""Serve a simulator over real HTTP on 127.0.0.1 (the demo, and tests with real workers)."""

from __future__ import annotations

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx

from connectors.simulators.base import Simulator

__all__ = ["SimServer", "serve"]


class _Handler(BaseHTTPRequestHandler):
    sim: Simulator
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # small responses must not wait for delayed ACKs

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - stdlib signature
        return None

    def _serve(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        host = self.headers.get("Host", "127.0.0.1")
        request = httpx.Request(
            self.command, f"http://{host}{self.path}", headers=list(self.headers.items()), content=body
        )
        try:
            response = self.sim.handle(request)
            content = response.content
            status = response.status_code
            headers = dict(response.headers)
        except Exception as exc:  # noqa: BLE001 - a simulator bug must answer, not hang the client
            content = f'{{"message": "simulator error: {type(exc).__name__}"}}'.encode()
            status, headers = 500, {"content-type": "application/json"}
        self.send_response(status)
        for name, value in headers.items():
            if name.lower() not in ("content-length", "transfer-encoding", "connection", "content-encoding"):
                self.send_header(name, value)
        self.send_header("Content-Length", str(len(content)))
        self.end_headers()
        self.wfile.write(content)

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _serve


class SimServer:
    def __init__(self, sim: Simulator, host: str = "127.0.0.1", port: int = 0) -> None:
        handler = type("Handler", (_Handler,), {"sim": sim})
        self.httpd = ThreadingHTTPServer((host, port), handler)
        self.httpd.daemon_threads = True
        self.sim = sim
        self.thread = threading.Thread(target=self.httpd.serve_forever, name=f"sim-{sim.vendor}", daemon=True)

    @property
    def root(self) -> str:
        host, port = self.httpd.server_address[:2]
        return f"http://{host}:{port}"

    @property
    def url(self) -> str:
        """The URL to give the connector as its base URL setting."""
        return self.root + self.sim.setting_path

    def start(self) -> SimServer:
        if not self.thread.is_alive():
            self.sim.base_url = self.root
            self.thread.start()
        return self

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()

    def __enter__(self) -> SimServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()


def serve(sim: Simulator, host: str = "127.0.0.1", port: int = 0) -> SimServer:
    return SimServer(sim, host, port).start()
