#!/usr/bin/env python3
"""A storefront's event sender for failure tests: posts events with unique
event ids and retries each request until it is acknowledged, as a careful
client does (same body, same ids; after Retry-After on a 503, at once after
a dropped connection).

  bench/event_writer.py PORT SECONDS THREADS ACKED_FILE

Every acknowledged event id goes to ACKED_FILE (one per line). Prints one
JSON line: requests, acknowledged events, answers by status, connection
errors, and the first and last time a request was refused (seconds from
the start) and refusals per second, so that a failover's window shows.
"""
import http.client
import json
import random
import sys
import threading
import time


def main():
    port, seconds, threads, acked_path = int(sys.argv[1]), float(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
    start = time.monotonic()
    lock = threading.Lock()
    stats = {"requests": 0, "acknowledged": 0, "status": {}, "connection_errors": 0,
             "first_refused_s": None, "last_refused_s": None, "refused_per_second": {}}
    run = "r%d" % (int(time.time() * 1000) % 100000000)  # ids unique across runs
    acked = []

    def refused(kind):
        t = round(time.monotonic() - start, 3)
        with lock:
            if kind == "conn":
                stats["connection_errors"] += 1
            b = str(int(t))
            stats["refused_per_second"][b] = stats["refused_per_second"].get(b, 0) + 1
            if stats["first_refused_s"] is None:
                stats["first_refused_s"] = t
            stats["last_refused_s"] = t

    def worker(w):
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        n = 0
        while time.monotonic() - start < seconds:
            n += 1
            events = [{"customer_id": "w%d-c%d" % (w, random.randrange(1000)), "product_id": "p%d" % random.randrange(50),
                       "event": "view", "event_id": "%sw%d-%d-%d" % (run, w, n, i)} for i in range(3)]
            body = json.dumps(events)
            while True:
                try:
                    conn.request("POST", "/v1/events", body=body, headers={"Content-Type": "application/json"})
                    r = conn.getresponse()
                    r.read()
                    with lock:
                        stats["requests"] += 1
                        stats["status"][r.status] = stats["status"].get(r.status, 0) + 1
                    if r.status == 200:
                        with lock:
                            stats["acknowledged"] += len(events)
                            acked.extend(e["event_id"] for e in events)
                        break
                    refused("status")
                    time.sleep(float(r.getheader("Retry-After", "1")) / 10)  # a tenth: keep the window visible
                except (OSError, http.client.HTTPException):
                    refused("conn")
                    conn.close()
                    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
                    time.sleep(0.01)

    ts = [threading.Thread(target=worker, args=(w,)) for w in range(threads)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    with open(acked_path, "w") as f:
        f.write("\n".join(acked) + "\n")
    print(json.dumps(stats))


if __name__ == "__main__":
    main()
