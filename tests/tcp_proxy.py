"""A TCP proxy on 127.0.0.1 that a test can cut and restore: a database outage on demand.

``cut()`` closes every proxied connection and stops listening, so a new connection is
refused (ECONNREFUSED), as when PostgreSQL is stopped; ``restore()`` listens on the
same port again. The port is picked below Linux's ephemeral range (32768-60999), so no
outgoing connection takes it while the proxy is cut. Threads, no asyncio: each
connection is two blocking pumps, which is plenty for a test's few dozen connections.
"""

from __future__ import annotations

import errno
import random
import socket
import threading
import time
from typing import Any

from sqlalchemy.engine import make_url

_PORTS = range(20_000, 32_000)  # below the ephemeral range: see the module docstring
_REBIND_SECONDS = 5.0


class TcpProxy:
    """Forward 127.0.0.1:``port`` to ``target``; ``cut()`` and ``restore()`` it at will."""

    def __init__(self, target_host: str = "127.0.0.1", target_port: int = 5432) -> None:
        self.target = (target_host, target_port)
        self.port = 0
        self.accepted = 0  # connections forwarded so far
        self._listener: socket.socket | None = None
        self._sockets: set[socket.socket] = set()
        self._lock = threading.Lock()

    def start(self) -> "TcpProxy":
        for port in random.Random().sample(_PORTS, 50):
            try:
                self._listen(port)
            except OSError as exc:
                if exc.errno != errno.EADDRINUSE:
                    raise
                continue
            self.port = port
            return self
        raise RuntimeError("no free port for the proxy")

    def url_for(self, database_url: str) -> str:
        """Return ``database_url`` pointed at the proxy instead of the target."""
        return make_url(database_url).set(host="127.0.0.1", port=self.port).render_as_string(hide_password=False)

    @property
    def is_cut(self) -> bool:
        return self._listener is None

    def cut(self) -> None:
        """Close every connection and refuse new ones."""
        with self._lock:
            listener, self._listener = self._listener, None
            connections, self._sockets = self._sockets, set()
        if listener is not None:
            _close(listener)  # shutdown() wakes the thread blocked in accept()
        for connection in connections:
            _close(connection)

    def restore(self) -> None:
        """Accept connections again, on the same port."""
        deadline = time.monotonic() + _REBIND_SECONDS
        while True:
            try:
                self._listen(self.port)
                return
            except OSError as exc:  # a connection of ours lingering on the port; SO_REUSEADDR covers TIME_WAIT
                if exc.errno != errno.EADDRINUSE or time.monotonic() > deadline:
                    raise
                time.sleep(0.05)

    def stop(self) -> None:
        self.cut()

    def __enter__(self) -> "TcpProxy":
        return self.start()

    def __exit__(self, *exc: Any) -> None:
        self.stop()

    def _listen(self, port: int) -> None:
        listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            listener.bind(("127.0.0.1", port))
            listener.listen(128)
        except OSError:
            listener.close()
            raise
        with self._lock:
            self._listener = listener
        threading.Thread(target=self._accept, args=(listener,), name="tcp-proxy-accept", daemon=True).start()

    def _accept(self, listener: socket.socket) -> None:
        while True:
            try:
                client, _ = listener.accept()
            except OSError:  # cut or stopped
                return
            try:
                upstream = socket.create_connection(self.target, timeout=5)
                upstream.settimeout(None)
            except OSError:
                _close(client)
                continue
            with self._lock:
                if self._listener is not listener:  # cut while this one was being connected
                    _close(client)
                    _close(upstream)
                    continue
                self._sockets.update((client, upstream))
                self.accepted += 1
            for source, sink in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pump, args=(source, sink), name="tcp-proxy-pump",
                                 daemon=True).start()

    def _pump(self, source: socket.socket, sink: socket.socket) -> None:
        try:
            while data := source.recv(65536):
                sink.sendall(data)
        except OSError:
            pass
        finally:
            with self._lock:
                self._sockets.discard(source)
                self._sockets.discard(sink)
            _close(source)
            _close(sink)


def _close(sock: socket.socket) -> None:
    try:
        sock.shutdown(socket.SHUT_RDWR)
    except OSError:
        pass
    sock.close()
