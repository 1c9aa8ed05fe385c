#!/usr/bin/env python3
"""What unauthenticated hostile clients cost aisle-server's memory.

  python3 bench/hostile_clients.py --server build/bin/aisle-server --model MODEL [--clients 200]

Starts the server (with an API key file, defaults otherwise), then measures
its resident memory (VmRSS) in three phases, each with --clients connections
from this script, none of which sends a key:
  1. pipeline: each connection sends 1,000 pipelined `GET /metrics` (an
     unauthenticated endpoint) and never reads an answer;
  2. bodies: each connection sends the head of a POST /v1/events with
     Content-Length 1,000,000 and 900,000 bytes of it, then stops;
  3. after: all connections closed.
Prints one Markdown row per phase: RSS, and the growth per client.
"""
import argparse
import os
import socket
import subprocess
import sys
import tempfile
import time


def rss_kb(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def wait_ready(port, timeout=60):
    end = time.time() + timeout
    while time.time() < end:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1) as s:
                s.sendall(b"GET /readyz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
                if b" 200 " in s.recv(100):
                    return True
        except OSError:
            pass
        time.sleep(0.2)
    return False


def send_what_fits(sock, data):
    """Sends until the kernel would block (the server stopped reading)."""
    sock.setblocking(False)
    sent = 0
    while sent < len(data):
        try:
            sent += sock.send(data[sent:sent + 65536])
        except BlockingIOError:
            break
    return sent


def settle(pid, seconds=3.0):
    """RSS once it stops moving (or after `seconds`)."""
    last, end = -1, time.time() + seconds
    while time.time() < end:
        now = rss_kb(pid)
        if now == last:
            return now
        last = now
        time.sleep(0.5)
    return rss_kb(pid)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--server", default="build/bin/aisle-server")
    ap.add_argument("--model", required=True)
    ap.add_argument("--clients", type=int, default=200)
    ap.add_argument("--port", type=int, default=18190)
    a = ap.parse_args()
    work = tempfile.mkdtemp()
    keys = os.path.join(work, "keys")
    with open(keys, "w") as f:
        f.write("client-key-0123456789abcdef\n")
    server = subprocess.Popen([a.server, "--model", a.model, "--port", str(a.port), "--api_keys", keys,
                               "--access_log", "", "--events_dir", os.path.join(work, "events")],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        if not wait_ready(a.port):
            sys.exit("the server did not get ready")
        base = settle(server.pid)
        print(f"| phase | server RSS | growth per client |\n|---|---|---|\n| idle | {base / 1024:.1f} MB | |")
        pipeline = b"GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n" * 1000
        conns = []
        for _ in range(a.clients):
            s = socket.create_connection(("127.0.0.1", a.port))
            s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)  # a client that reads nothing
            send_what_fits(s, pipeline)
            conns.append(s)
        now = settle(server.pid)
        print(f"| {a.clients} clients pipelining GET /metrics, never reading | {now / 1024:.1f} MB | "
              f"{(now - base) / a.clients:.0f} KB |")
        bodies = []
        head = (b"POST /v1/events HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                b"Content-Length: 1000000\r\n\r\n")
        for _ in range(a.clients):
            s = socket.create_connection(("127.0.0.1", a.port))
            send_what_fits(s, head + b"[" + b" " * 899999)
            bodies.append(s)
        now2 = settle(server.pid)
        print(f"| + {a.clients} clients holding 0.9 MB of a body, no key | {now2 / 1024:.1f} MB | "
              f"{(now2 - now) / a.clients:.0f} KB |")
        for s in conns + bodies:
            s.close()
        time.sleep(1)
        after = settle(server.pid)
        print(f"| all closed | {after / 1024:.1f} MB | |")
    finally:
        server.terminate()
        server.wait()


if __name__ == "__main__":
    main()
