"""A TCP relay in front of a Redis master, run on the master's host, that can stop its replication stream: the way to
show, deterministically, what a failover loses (writes the master acknowledged and never sent to its replica).

Every connection (the service's, the sentinels', the replica's) goes through it unchanged. A connection whose client
sent PSYNC or SYNC is a replica's replication link; on SIGUSR1 the relay stops passing the master's bytes on those
links (it no longer reads them: the master's output buffer holds them, as a stalled link would), everything else
flowing on. The sentinels still see a healthy master, the replica a connected link: until the master's host is
lost, nobody notices. It dies with its host (`RedisGroup.kill_host`), as the master does.

    python -m bench.cluster.replication_relay <listen address> <listen port> <master address> <master port>
"""

from __future__ import annotations

import asyncio
import contextlib
import re
import signal
import sys

CHUNK = 65536
# A command whose NAME is PSYNC or SYNC (RESP: *<count>, then the name as the first bulk string): a key or value
# that merely contains the word (an "async" in a job) is no replication link.
REPLICATION_COMMAND = re.compile(rb"\*\d+\r\n\$(5\r\nPSYNC|4\r\nSYNC)\r\n")


class Relay:
    def __init__(self, target: tuple[str, int]) -> None:
        self._target = target
        self.silenced = asyncio.Event()

    async def serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            upstream_reader, upstream_writer = await asyncio.open_connection(*self._target)
        except OSError:
            writer.close()
            return
        replication = asyncio.Event()  # set once the client asked for the replication stream
        tasks = [asyncio.create_task(self._to_master(reader, upstream_writer, replication)),
                 asyncio.create_task(self._to_client(upstream_reader, writer, replication))]
        await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
        for task in tasks:
            task.cancel()
        for side in (writer, upstream_writer):
            side.close()

    async def _to_master(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter,
                         replication: asyncio.Event) -> None:
        with contextlib.suppress(OSError):
            while data := await reader.read(CHUNK):
                if REPLICATION_COMMAND.search(data):
                    replication.set()
                writer.write(data)
                await writer.drain()

    async def _to_client(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter,
                         replication: asyncio.Event) -> None:
        with contextlib.suppress(OSError):
            while data := await reader.read(CHUNK):
                if replication.is_set() and self.silenced.is_set():
                    await asyncio.Event().wait()  # this and all after held: the link stalls, its socket open
                writer.write(data)
                await writer.drain()


async def main(listen: tuple[str, int], target: tuple[str, int]) -> None:
    relay = Relay(target)
    loop = asyncio.get_running_loop()

    def silence() -> None:
        relay.silenced.set()
        print("replication silenced", flush=True)  # what `RedisGroup.silence_replication` waits for

    loop.add_signal_handler(signal.SIGUSR1, silence)
    server = await asyncio.start_server(relay.serve, *listen)
    print(f"relaying {listen} to {target}", flush=True)
    async with server:
        await server.serve_forever()


if __name__ == "__main__":
    asyncio.run(main((sys.argv[1], int(sys.argv[2])), (sys.argv[3], int(sys.argv[4]))))
