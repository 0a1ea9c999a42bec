"""`sparkmodels docs serve`: a static file server for target/docs/ (loopback unless told otherwise)."""

from __future__ import annotations

import functools
import http.server
from pathlib import Path

from sparkmodels.errors import ProjectError


class _Handler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format, *args):  # noqa: A002 - the stdlib's signature
        pass  # quiet: the CLI prints the address once

    def end_headers(self):
        self.send_header("Cache-Control", "no-store")
        self.send_header("X-Content-Type-Options", "nosniff")
        super().end_headers()


def make_server(site_dir: Path, host: str = "127.0.0.1", port: int = 8080) -> http.server.ThreadingHTTPServer:
    """A server for site_dir (not started); port 0 picks a free port."""
    site_dir = Path(site_dir)
    if not (site_dir / "index.html").is_file():
        raise ProjectError(f"no docs site at {site_dir}.", hint="Run `sparkmodels docs generate` first.")
    handler = functools.partial(_Handler, directory=str(site_dir))
    return http.server.ThreadingHTTPServer((host, port), handler)


def serve(site_dir: Path, host: str = "127.0.0.1", port: int = 8080, on_ready=None) -> None:
    """Serve until Ctrl-C; on_ready(url) is called once the socket is bound."""
    server = make_server(site_dir, host, port)
    try:
        bound_host, bound_port = server.server_address[:2]
        if on_ready:
            on_ready(f"http://{bound_host}:{bound_port}/")
        server.serve_forever()
    finally:
        server.server_close()
