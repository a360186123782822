#!/usr/bin/env python3
"""The session of docs/services.md §7, run for real: a broker, a registry and the
bookmarks example service as processes on loopback, driven as a user would with
pyzmq (rpc, protocol.md §6) and `metro publish` / `metro services`.

    python3 session.py METRO_BINARY BOOKMARKS_BINARY

Every endpoint is an ephemeral port (`tcp://127.0.0.1:*`; each process prints the
one it bound), so the session never collides with another system. Every process
it starts is stopped at the end, also when a step fails. Exit status 0 when each
step gave what the docs say; otherwise 1, with the step and what it got.
"""
import json
import os
import signal
import struct
import subprocess
import sys
import time
import uuid

import zmq

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from session_support import Session  # noqa: E402

metro, bookmarks_binary = sys.argv[1], sys.argv[2]
session = Session("the bookmarks session of docs/services.md §7")
check = session.check


def main():
    endpoints = session.start_broker(metro)
    registry = session.start([metro, "registry", "--endpoint", "tcp://127.0.0.1:*", "--broker", endpoints["publish"]])
    registry_endpoint = json.loads(session.line_starting(registry, "ready ")[len("ready "):])["endpoint"]
    env = dict(os.environ, METRO_INGEST=endpoints["ingest"], METRO_CONSUME=endpoints["consume"],
               METRO_REGISTRY=registry_endpoint, METRO_DATA=os.path.join(session.work, "data"),
               METRO_INSTANCE="bookmarks-session")
    service = session.start([bookmarks_binary], env=env)
    ready = session.line_starting(service, "bookmarks ready ")
    rpc = ready.split("rpc=")[1]
    check("the service prints its ready line with its rpc endpoint", rpc.startswith("tcp://127.0.0.1:"), ready)

    # `metro services` lists it (the registry's view).
    deadline = time.monotonic() + 15
    listed = ""
    while time.monotonic() < deadline and "bookmarks-session" not in listed:
        listed = subprocess.run([metro, "services", "--registry", registry_endpoint], capture_output=True,
                                text=True, timeout=30).stdout
        time.sleep(0.1)
    check("metro services lists bookmarks", "bookmarks" in listed and "bookmarks-session" in listed, listed)

    ctx = zmq.Context()
    s = ctx.socket(zmq.DEALER)
    s.linger = 0
    s.connect(rpc)

    def call(method, body, deadline_ms=5000):
        rid = uuid.uuid4().hex.encode()
        s.send_multipart([b"metro/1", b"REQUEST", rid, method.encode(), struct.pack(">I", deadline_ms), b"{}",
                          json.dumps(body).encode()])
        if not s.poll(deadline_ms + 1000, zmq.POLLIN):
            raise TimeoutError(f"{method}: no answer")
        frames = s.recv_multipart()
        if frames[1] == b"REPLY":
            assert frames[2] == rid, frames
            return "REPLY", json.loads(frames[4])
        return "ERROR", (frames[2].decode(), frames[3].decode())

    kind, added = call("bookmark.add", {"userId": "u-1", "videoId": "v-1"})
    check("bookmark.add answers the bookmark with 0 views",
          kind == "REPLY" and added["videoId"] == "v-1" and added["views"] == 0, (kind, added))

    for _ in range(2):
        view = json.dumps({"userId": "u-1", "videoId": "v-1", "watchedAtMs": int(time.time() * 1000)})
        out = subprocess.run([metro, "publish", "video.watched", "--data", view, "--ingest", endpoints["ingest"]],
                             capture_output=True, text=True, timeout=30)
        check("metro publish video.watched is acknowledged",
              out.returncode == 0 and out.stdout.startswith("acked video.watched seq "), (out.stdout, out.stderr))

    # The views are counted once their deliveries commit: poll, never sleep a guess.
    deadline = time.monotonic() + 15
    listing = None
    while time.monotonic() < deadline:
        kind, listing = call("bookmark.list", {"userId": "u-1"})
        if kind == "REPLY" and listing["bookmarks"] and listing["bookmarks"][0]["views"] == 2:
            break
        time.sleep(0.05)
    check("bookmark.list shows the bookmark with both views",
          kind == "REPLY" and [(b["videoId"], b["views"]) for b in listing["bookmarks"]] == [("v-1", 2)], listing)

    kind, error = call("bookmark.add", {"userId": "", "videoId": "v-1"})
    check("an empty userId is ERROR 403 with the reason",
          kind == "ERROR" and error == ("403", "userId and videoId must not be empty"), (kind, error))
    kind, error = call("bookmark.nothing", {})
    check("an unknown method is ERROR 400", kind == "ERROR" and error[0] == "400", (kind, error))

    # SIGTERM: it drains, deregisters and exits 0.
    service.send_signal(signal.SIGTERM)
    check("the service stops on SIGTERM with status 0", service.wait(timeout=30) == 0, service.returncode)
    s.close()
    ctx.term()


session.run(main)
