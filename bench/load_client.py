"""Figure 5's client: one process, many concurrent connections, each doing round trips.

    python -m bench.load_client REQUESTS_PER_CLIENT SOCKET...
    -> {"seconds": total wall time, "replies": n, "latencies": [seconds per request, ...]}

Every connection negotiates first; the clock starts once all are negotiated.
"""

from __future__ import annotations

import asyncio
import json
import sys
import time

NEGOTIATE = b'{"execute": "qmp_capabilities"}\n'
QUERY = b'{"execute": "query-memdev"}\n'


async def _connect(path: str) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    reader, writer = await asyncio.open_unix_connection(path, limit=1 << 20)
    await reader.readline()
    writer.write(NEGOTIATE)
    await reader.readline()
    return reader, writer


async def _client(
    reader: asyncio.StreamReader, writer: asyncio.StreamWriter, count: int, out: list[float]
) -> None:
    clock = time.perf_counter
    for _ in range(count):
        began = clock()
        writer.write(QUERY)
        await reader.readline()
        out.append(clock() - began)


async def run(paths: list[str], count: int) -> dict[str, object]:
    streams = await asyncio.gather(*(_connect(path) for path in paths))
    latencies: list[float] = []
    began = time.perf_counter()
    await asyncio.gather(*(_client(r, w, count, latencies) for r, w in streams))
    seconds = time.perf_counter() - began
    for _, writer in streams:
        writer.close()
    return {"seconds": seconds, "replies": len(latencies), "latencies": latencies}


def main(argv: list[str]) -> int:
    count, paths = int(argv[0]), argv[1:]
    print(json.dumps(asyncio.run(run(paths, count))))
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
