#!/usr/bin/env python3
"""hello-service against a real broker, as its header says to run it: a broker on
ephemeral loopback ports, then `HelloService 3` with METRO_INGEST/METRO_CONSUME.
It must publish three greetings (each acknowledged with a seq), take each as the
group's member and exit 0.

    python3 session.py METRO_BINARY HELLO_BINARY
"""
import os
import subprocess
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from session_support import Session  # noqa: E402

metro, hello = sys.argv[1], sys.argv[2]
session = Session("hello-service against a real broker")


def main():
    endpoints = session.start_broker(metro)
    env = dict(os.environ, METRO_INGEST=endpoints["ingest"], METRO_CONSUME=endpoints["consume"])
    run = subprocess.run([hello, "3"], env=env, capture_output=True, text=True, timeout=60)
    lines = run.stdout.splitlines()
    session.check("HelloService exits 0", run.returncode == 0, (run.returncode, run.stderr[-2000:]))
    session.check("it publishes three greetings, acknowledged with seqs 1, 2, 3",
                  [l for l in lines if l.startswith("published")] ==
                  [f"published hello {i} as seq {i}" for i in (1, 2, 3)], lines)
    session.check("it takes each as the group's member",
                  [l for l in lines if l.startswith("took")] ==
                  [f"took seq {i} (attempt 1): hello {i}" for i in (1, 2, 3)], lines)


session.run(main)
