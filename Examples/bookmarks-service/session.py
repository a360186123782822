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
import queue
import shutil
import signal
import struct
import subprocess
import sys
import tempfile
import threading
import time
import uuid

import zmq

metro, bookmarks_binary = sys.argv[1], sys.argv[2]
started = []
work = tempfile.mkdtemp(prefix="bookmarks-session.")


def start(argv, env=None):
    """Starts `argv`, its stderr into a log file, its stdout lines into a queue read by a thread."""
    p = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=open(os.path.join(work, f"{len(started)}.log"), "w"),
                         env=env, text=True)
    p.lines = queue.Queue()

    def pump():
        for line in p.stdout:
            p.lines.put(line)
        p.lines.put(None)

    threading.Thread(target=pump, daemon=True).start()
    started.append(p)
    return p


def line_starting(p, prefix, timeout=30):
    """The first stdout line of `p` that starts with `prefix`, within `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            line = p.lines.get(timeout=max(0.0, deadline - time.monotonic()))
        except queue.Empty:
            raise RuntimeError(f"{p.args[0]} printed no {prefix!r} line within {timeout} s") from None
        if line is None:
            raise RuntimeError(f"{p.args[0]} exited ({p.wait()}) before printing {prefix!r}")
        if line.startswith(prefix):
            return line.strip()


def check(step, condition, got):
    if not condition:
        raise AssertionError(f"{step}: got {got!r}")
    print(f"ok   {step}")


def main():
    broker = start([metro, "broker", "--data-dir", os.path.join(work, "broker"), "--ingest", "tcp://127.0.0.1:*",
                    "--publish", "tcp://127.0.0.1:*", "--events", "tcp://127.0.0.1:*", "--consume",
                    "tcp://127.0.0.1:*", "--metrics", ""])
    endpoints = json.loads(line_starting(broker, "ready ")[len("ready "):])
    registry = start([metro, "registry", "--endpoint", "tcp://127.0.0.1:*", "--broker", endpoints["publish"]])
    registry_endpoint = json.loads(line_starting(registry, "ready ")[len("ready "):])["endpoint"]
    env = dict(os.environ, METRO_INGEST=endpoints["ingest"], METRO_CONSUME=endpoints["consume"],
               METRO_REGISTRY=registry_endpoint, METRO_DATA=os.path.join(work, "data"),
               METRO_INSTANCE="bookmarks-session")
    service = start([bookmarks_binary], env=env)
    ready = line_starting(service, "bookmarks ready ")
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


try:
    main()
    print("== ok: the bookmarks session of docs/services.md §7")
except Exception as failure:  # noqa: BLE001 - report any failure with the logs, then fail
    print(f"FAIL {failure}", file=sys.stderr)
    for name in sorted(os.listdir(work)):
        if name.endswith(".log"):
            with open(os.path.join(work, name)) as log:
                print(f"--- {name}\n" + log.read()[-3000:], file=sys.stderr)
    sys.exit(1)
finally:
    for p in started:
        if p.poll() is None:
            p.send_signal(signal.SIGTERM)
    for p in started:
        try:
            p.wait(timeout=30)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()
    shutil.rmtree(work, ignore_errors=True)
