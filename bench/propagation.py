#!/usr/bin/env python3
"""Propagation between two aisle-servers sharing a live store (--live_store).

  bench/propagation.py PORT_A PORT_B PRODUCT [TRIALS] [ADMIN_KEY]

Per trial, a new customer: POST one purchase of PRODUCT to server A; from
A's acknowledgement, poll server B's recommendations for that customer
until they are personalized ("fallback": null). Then, with ADMIN_KEY, the
same for consent withdrawn through A (until B answers "no_consent") and an
erasure through A (until B answers "popularity" again). Prints p50/p99/max
in milliseconds per kind as Markdown rows. Plain HTTP/1.1 keep-alive
connections, as a storefront's client holds.
"""
import http.client
import json
import sys
import time


def percentile(values, q):
    v = sorted(values)
    return v[min(len(v) - 1, int(q * len(v)))]


def main():
    port_a, port_b, product = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
    trials = int(sys.argv[4]) if len(sys.argv) > 4 else 200
    admin = sys.argv[5] if len(sys.argv) > 5 else ""
    a = http.client.HTTPConnection("127.0.0.1", port_a)
    b = http.client.HTTPConnection("127.0.0.1", port_b)

    def call(conn, method, path, body=None, headers=None):
        h = {"Content-Type": "application/json"} if body is not None else {}
        h.update(headers or {})
        conn.request(method, path, body=body, headers=h)
        r = conn.getresponse()
        data = r.read()
        return r.status, data

    def fallback(customer):
        status, data = call(b, "GET", "/v1/customers/%s/recommendations?count=5" % customer)
        if status != 200:
            raise SystemExit("B answered %d: %s" % (status, data[:200]))
        return json.loads(data)["fallback"]

    def wait(customer, want, since):
        deadline = since + 5
        while time.monotonic() < deadline:
            if fallback(customer) == want:
                return (time.monotonic() - since) * 1000
        raise SystemExit("B never answered fallback=%r for %s" % (want, customer))

    run = int(time.time())
    kinds = {"event": [], "consent": [], "erasure": []}
    for i in range(trials):
        c = "prop-%d-%d" % (run, i)
        status, data = call(a, "POST", "/v1/events",
                            json.dumps([{"customer_id": c, "product_id": product, "event": "purchase"}]))
        if status != 200:
            raise SystemExit("A answered %d: %s" % (status, data[:200]))
        kinds["event"].append(wait(c, None, time.monotonic()))
        if not admin:
            continue
        status, _ = call(a, "PUT", "/v1/customers/%s/consent" % c, json.dumps({"personalization": True}))
        d = "prop-%d-%d-x" % (run, i)
        call(a, "POST", "/v1/events", json.dumps([{"customer_id": d, "product_id": product, "event": "purchase"}]))
        wait(d, None, time.monotonic())
        status, _ = call(a, "PUT", "/v1/customers/%s/consent" % c, json.dumps({"personalization": False}))
        if status != 200:
            raise SystemExit("consent: A answered %d" % status)
        kinds["consent"].append(wait(c, "no_consent", time.monotonic()))
        status, _ = call(a, "DELETE", "/v1/customers/%s" % d, headers={"X-API-Key": admin})
        if status != 200:
            raise SystemExit("erasure: A answered %d" % status)
        kinds["erasure"].append(wait(d, "popularity", time.monotonic()))
    for kind, v in kinds.items():
        if v:
            print("| %s through A, seen by B | %d | %.2f | %.2f | %.2f |" %
                  (kind, len(v), percentile(v, 0.5), percentile(v, 0.99), max(v)))


if __name__ == "__main__":
    main()
