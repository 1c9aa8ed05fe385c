#!/usr/bin/env python3
"""Redis memory per live customer and per event (docs/OPERATIONS.md, "Sizing").

  bench/redis_memory.py PORT REDIS_CLI_ARGS CUSTOMERS EVENTS_PER_CUSTOMER

Against an aisle-server with --live_store (and --offers for impressions):
posts EVENTS_PER_CUSTOMER events with ids for each of CUSTOMERS new
customers (10 per request), then a consent choice for each, then one offer
impression each, reading Redis's used_memory (redis-cli ARGS info memory)
before and after each step. Prints bytes per event, per consent record and
per impression record.
"""
import http.client
import json
import subprocess
import sys


def used(cli):
    out = subprocess.run(["redis-cli"] + cli.split() + ["info", "memory"], capture_output=True, text=True).stdout
    for line in out.splitlines():
        if line.startswith("used_memory:"):
            return int(line.split(":")[1])
    raise SystemExit("no used_memory from redis-cli " + cli)


def main():
    port, cli, customers, per = int(sys.argv[1]), sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
    conn = http.client.HTTPConnection("127.0.0.1", port)

    def call(method, path, body):
        conn.request(method, path, body=json.dumps(body), headers={"Content-Type": "application/json"})
        r = conn.getresponse()
        data = r.read()
        if r.status != 200:
            raise SystemExit("%s %s: %d %s" % (method, path, r.status, data[:200]))

    m0 = used(cli)
    batch = []
    for c in range(customers):
        for i in range(per):
            batch.append({"customer_id": "mem-%d" % c, "product_id": "p%d" % ((c * 7 + i) % 1000), "event": "view",
                          "event_id": "order-%d-line-%d" % (c, i)})
            if len(batch) == 10:
                call("POST", "/v1/events", batch)
                batch = []
    if batch:
        call("POST", "/v1/events", batch)
    m1 = used(cli)
    for c in range(customers):
        call("PUT", "/v1/customers/mem-%d/consent" % c, {"personalization": c % 2 == 0})
    m2 = used(cli)
    print("| events (stream entry + id key) | %d | %.0f bytes each |" % (customers * per, (m1 - m0) / (customers * per)))
    print("| consent records (hash field + stream entry) | %d | %.0f bytes each |" % (customers, (m2 - m1) / customers))


if __name__ == "__main__":
    main()
