"""A tiny ASGI app served by hypercorn for the h2c Upgrade fixture (scripts/capture-h2.sh).

curl --http2 on an http:// URL sends `Upgrade: h2c`; hypercorn answers 101 and serves the
request as stream 1 over HTTP/2, then later requests on the same connection as streams 3, 5...
"""


async def app(scope, receive, send):
    if scope["type"] != "http":
        return
    body = b""
    while True:
        event = await receive()
        body += event.get("body", b"")
        if not event.get("more_body"):
            break
    path = scope["path"]
    if path == "/missing":
        status, payload = 404, b"not here\n"
    elif scope["method"] == "POST":
        status, payload = 201, b'{"received":%d}\n' % len(body)
    else:
        status, payload = 200, b"hello over h2c " + path.encode() + b"\n"
    await send({
        "type": "http.response.start",
        "status": status,
        "headers": [(b"content-type", b"text/plain"), (b"x-fixture", b"upgrade")],
    })
    await send({"type": "http.response.body", "body": payload})
