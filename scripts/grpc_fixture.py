"""gRPC server and client for the gRPC fixture (scripts/capture-h2.sh), with grpcio.

No .proto: the handlers take and return raw bytes (grpcio's generic handlers with no
serializer), which is all the wire needs. Calls, in order, on one channel:
  1. unary          /shop.Orders/GetOrder        OK, one message each way
  2. server stream  /shop.Orders/WatchOrder      OK, 1 request, 3 responses
  3. client stream  /shop.Orders/UploadItems     OK, 4 requests, 1 response
  4. unary, gzip    /shop.Orders/GetOrder        OK, compressed messages both ways
  5. unary failing  /shop.Orders/GetOrder        NOT_FOUND (5) "order 42 not found: ✓"
     (aborted before any message: a trailers-only response)
  6. server stream failing after one message  /shop.Orders/WatchOrder  UNAVAILABLE (14)

usage: grpc_fixture.py server PORT | client PORT
"""

import sys
from concurrent import futures

import grpc


def get_order(request, context):
    if request == b"42":
        context.abort(grpc.StatusCode.NOT_FOUND, "order 42 not found: \u2713")
    return b'{"id":' + request + b',"state":"paid"}'


def watch_order(request, context):
    if request == b"fail":
        yield b"first"
        context.abort(grpc.StatusCode.UNAVAILABLE, "backend went away")
    for state in (b"paid", b"packed", b"shipped"):
        yield request + b":" + state


def upload_items(request_iterator, context):
    n = sum(1 for _ in request_iterator)
    return b"stored %d" % n


def serve(port):
    handler = grpc.method_handlers_generic_handler(
        "shop.Orders",
        {
            "GetOrder": grpc.unary_unary_rpc_method_handler(get_order),
            "WatchOrder": grpc.unary_stream_rpc_method_handler(watch_order),
            "UploadItems": grpc.stream_unary_rpc_method_handler(upload_items),
        },
    )
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=4))
    server.add_generic_rpc_handlers((handler,))
    server.add_insecure_port("127.0.0.1:%d" % port)
    server.start()
    print("ready", flush=True)
    server.wait_for_termination()


def client(port):
    with grpc.insecure_channel("127.0.0.1:%d" % port) as ch:
        get = ch.unary_unary("/shop.Orders/GetOrder")
        watch = ch.unary_stream("/shop.Orders/WatchOrder")
        upload = ch.stream_unary("/shop.Orders/UploadItems")
        print(get(b"7", timeout=10))
        print(list(watch(b"7", timeout=10)))
        print(upload(iter([b"a", b"bb", b"ccc", b"dddd"]), timeout=10))
        print(get(b"8" * 200, timeout=10, compression=grpc.Compression.Gzip))
        for call in (lambda: get(b"42", timeout=10), lambda: list(watch(b"fail", timeout=10))):
            try:
                call()
            except grpc.RpcError as e:
                print(e.code(), e.details())


if __name__ == "__main__":
    {"server": serve, "client": client}[sys.argv[1]](int(sys.argv[2]))
