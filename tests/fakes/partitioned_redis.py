"""A TCP stand-in for a Redis host, in front of a real Redis on a Unix socket: it passes both ways until the network
is cut (`cut`), then it goes on accepting connections and reading what comes, and passes nothing either way, as a
host lost in a partition does (no reset, no answer, for as long as it lasts)."""

from __future__ import annotations

import socket
import threading
from pathlib import Path


class PartitionedRedis:
    def __init__(self, unix_socket: Path) -> None:
        self._upstream = str(unix_socket)
        self._cut = threading.Event()
        self._listener = socket.socket()
        self._listener.bind(("127.0.0.1", 0))
        self._listener.listen()
        self._held: list[socket.socket] = []
        threading.Thread(target=self._accept, name="partitioned-redis", daemon=True).start()

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self._listener.getsockname()[1]}/0"

    def cut(self) -> None:
        self._cut.set()

    def close(self) -> None:
        for each in [self._listener, *self._held]:
            each.close()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self._listener.accept()
            except OSError:  # closed
                return
            self._held.append(client)
            upstream = socket.socket(socket.AF_UNIX)
            upstream.connect(self._upstream)
            self._held.append(upstream)
            for source, sink in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pass, args=(source, sink), daemon=True).start()

    def _pass(self, source: socket.socket, sink: socket.socket) -> None:
        while True:
            try:
                data = source.recv(65536)
                if not data:
                    return
                if not self._cut.is_set():
                    sink.sendall(data)
            except OSError:
                return
