#!/usr/bin/env python3
"""One WebSocket conversation on loopback, for scripts/capture-websocket.sh.

An echo server (the `websockets` package) and a client in one process. The client sends text
messages, a 70 000-byte binary message (64-bit length), a text message in three fragments, a
ping, then closes with 1000 "done". With --deflate both sides negotiate permessage-deflate
(the package's default); without, compression is off.

Writes the ground truth to the path given: what the client sent, message by message, which
the echo server sends back unchanged.

Usage: ws_fixture.py PORT TRUTH.json [--deflate]
"""

import asyncio
import json
import sys

from websockets.asyncio.client import connect
from websockets.asyncio.server import serve

TEXTS = ['{"op":"subscribe","topic":"orders"}', '{"op":"get","id":42}', "héllo wörld"]
BINARY = bytes(range(256)) * 273 + bytes(112)  # 70 000 bytes
FRAGMENTS = ['{"op":"bulk",', '"ids":[1,2,3]', "}"]


async def echo(ws):
    async for message in ws:
        await ws.send(message)


async def main(port, truth_path, deflate):
    compression = "deflate" if deflate else None
    sent = []
    async with serve(echo, "127.0.0.1", port, compression=compression):
        async with connect(f"ws://127.0.0.1:{port}/v1/stream", compression=compression) as ws:
            for t in TEXTS:
                await ws.send(t)
                sent.append({"type": "text", "bytes": len(t.encode())})
                await ws.recv()
            await ws.send(BINARY)
            sent.append({"type": "binary", "bytes": len(BINARY)})
            await ws.recv()
            await ws.send(FRAGMENTS)  # an iterable: one message in three frames
            sent.append({"type": "text", "bytes": len("".join(FRAGMENTS).encode()), "frames": 3})
            await ws.recv()
            pong = await ws.ping(b"hb")
            await pong
            await ws.close(code=1000, reason="done")
    with open(truth_path, "w") as f:
        json.dump({"deflate": deflate, "client_messages": sent, "close_code": 1000,
                   "close_reason": "done", "pings": 1}, f, indent=1)
        f.write("\n")


if __name__ == "__main__":
    asyncio.run(main(int(sys.argv[1]), sys.argv[2], "--deflate" in sys.argv[3:]))
