"""Hold many WebSocket connections open: `python -m benchmarks.holder URL COUNT`.

An asyncio `websockets` client in its own process. Connection `i` sends the header
`X-Bench-Index: i`, so the benchmark can map connection ids (from the `$connect` items in
DynamoDB) to connections. Line protocol: after opening it prints one JSON line; then each
command read from stdin gets one JSON line back:

- `collect SECONDS`: wait until every connection has received a message since the last
  collect (or SECONDS pass), wait a little more to catch duplicates, and report them all;
- `close`: close every connection (with the close handshake) and exit.
"""

from __future__ import annotations

import asyncio
import json
import sys
import time

from websockets.asyncio.client import ClientConnection, connect

OPENING_CONCURRENCY = 50  # handshakes in flight at once: a burst, not a thundering herd
DUPLICATE_GRACE_SECONDS = 0.2


class Holder:
    def __init__(self, url: str, count: int) -> None:
        self.url = url
        self.count = count
        self.connections: list[ClientConnection | None] = [None] * count
        self.received: list[list[str]] = [[] for _ in range(count)]
        self.last_received_at = 0.0
        self.closed_early = 0
        self.closing = False
        self.progress = asyncio.Event()
        self.readers: set[asyncio.Task[None]] = set()  # the loop keeps only weak references

    async def open_all(self) -> dict[str, object]:
        started = time.monotonic()
        gate = asyncio.Semaphore(OPENING_CONCURRENCY)
        errors: list[str] = []

        async def open_one(index: int) -> None:
            async with gate:
                try:
                    websocket = await connect(
                        self.url,
                        additional_headers={"X-Bench-Index": str(index)},
                        compression=None,
                        ping_interval=None,
                        open_timeout=30,
                    )
                except Exception as error:
                    errors.append(repr(error))
                    return
            self.connections[index] = websocket
            reader = asyncio.create_task(self._read(index, websocket))
            self.readers.add(reader)

        await asyncio.gather(*(open_one(i) for i in range(self.count)))
        return {
            "opened": sum(ws is not None for ws in self.connections),
            "failed": len(errors),
            "errors": errors[:5],
            "seconds": time.monotonic() - started,
        }

    async def _read(self, index: int, websocket: ClientConnection) -> None:
        try:
            async for message in websocket:
                text = message if isinstance(message, str) else message.decode()
                self.received[index].append(text)
                self.last_received_at = time.monotonic()  # same clock as the benchmark's
                self.progress.set()
        except Exception:
            pass
        if not self.closing:
            self.closed_early += 1

    async def collect(self, timeout: float) -> dict[str, object]:
        deadline = time.monotonic() + timeout
        while not all(self.received) and time.monotonic() < deadline:
            self.progress.clear()
            try:
                await asyncio.wait_for(self.progress.wait(), deadline - time.monotonic())
            except TimeoutError:
                break
        await asyncio.sleep(DUPLICATE_GRACE_SECONDS)
        received, self.received = self.received, [[] for _ in range(self.count)]
        return {
            "received": received,
            "last_received_at": self.last_received_at,
            "closed_early": self.closed_early,
        }

    async def close_all(self) -> dict[str, object]:
        self.closing = True
        open_ones = [ws for ws in self.connections if ws is not None]
        gate = asyncio.Semaphore(OPENING_CONCURRENCY)

        async def close_one(websocket: ClientConnection) -> None:
            async with gate:
                await websocket.close()

        await asyncio.gather(*(close_one(ws) for ws in open_ones), return_exceptions=True)
        return {"closed": len(open_ones)}


async def main(url: str, count: int) -> None:
    holder = Holder(url, count)
    print(json.dumps(await holder.open_all()), flush=True)
    loop = asyncio.get_running_loop()
    while True:
        line = (await loop.run_in_executor(None, sys.stdin.readline)).split()
        if not line or line[0] == "close":
            print(json.dumps(await holder.close_all()), flush=True)
            return
        if line[0] == "collect":
            print(json.dumps(await holder.collect(float(line[1]))), flush=True)
        else:
            print(json.dumps({"error": f"unknown command {line[0]!r}"}), flush=True)


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], int(sys.argv[2])))
