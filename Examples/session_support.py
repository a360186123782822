"""What the examples' sessions share (Examples/*/session.py): processes started on
ephemeral loopback ports, their ready lines read with a bound, each step checked
and printed, and everything stopped at the end, with the logs of a failure."""
import json
import os
import queue
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time


class Session:
    def __init__(self, name):
        self.name = name
        self.started = []
        self.work = tempfile.mkdtemp(prefix="metro-example-session.")

    def start(self, argv, env=None):
        """Starts `argv`, its stderr into a log file, its stdout lines into a queue read by a thread."""
        log = open(os.path.join(self.work, f"{len(self.started)}-{os.path.basename(argv[0])}.log"), "w")
        p = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=log, env=env, text=True)
        p.lines = queue.Queue()

        def pump():
            for line in p.stdout:
                p.lines.put(line)
            p.lines.put(None)

        threading.Thread(target=pump, daemon=True).start()
        self.started.append(p)
        return p

    @staticmethod
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

    def start_broker(self, metro):
        """`metro broker` on ephemeral ports: its ready line's endpoints (ingest, publish, events, consume)."""
        broker = self.start([metro, "broker", "--data-dir", os.path.join(self.work, "broker"), "--ingest",
                             "tcp://127.0.0.1:*", "--publish", "tcp://127.0.0.1:*", "--events", "tcp://127.0.0.1:*",
                             "--consume", "tcp://127.0.0.1:*", "--metrics", ""])
        return json.loads(self.line_starting(broker, "ready ")[len("ready "):])

    @staticmethod
    def check(step, condition, got):
        if not condition:
            raise AssertionError(f"{step}: got {got!r}")
        print(f"ok   {step}")

    def run(self, main):
        """Runs `main()`; on a failure prints it with the processes' logs and exits 1. Stops everything."""
        try:
            main()
            print(f"== ok: {self.name}")
        except Exception as failure:  # noqa: BLE001 - report any failure with the logs, then fail
            print(f"FAIL {failure}", file=sys.stderr)
            for name in sorted(os.listdir(self.work)):
                if name.endswith(".log"):
                    with open(os.path.join(self.work, name)) as log:
                        print(f"--- {name}\n" + log.read()[-3000:], file=sys.stderr)
            sys.exit(1)
        finally:
            for p in self.started:
                if p.poll() is None:
                    p.send_signal(signal.SIGTERM)
            for p in self.started:
                try:
                    p.wait(timeout=30)
                except subprocess.TimeoutExpired:
                    p.kill()
                    p.wait()
            shutil.rmtree(self.work, ignore_errors=True)
