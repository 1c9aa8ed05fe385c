#!/usr/bin/env python3
"""docs/openapi.yaml against the real server (issue 22, item 4).

  tests/server/openapi_test.py BIN_DIR SOURCE_DIR

1. Lint: the document is OpenAPI 3.1 with every operation's id, summary
   and responses; every $ref resolves; every schema is a valid JSON Schema
   (2020-12); every route the server has (server/http_server.cc) is
   described with its method, and nothing else is.
2. Against aisle-server on loopback (a model trained on the bundled sample,
   its catalog and offers, a live loop, admin keys): every example request
   below, successes and errors, gets an answer whose status the document
   lists for that operation and whose body validates against its schema;
   every 503 says Retry-After; GET /openapi.yaml serves this very file;
   docs/API_REFERENCE.md is the description rendered (scripts/openapi_markdown.py).
Exits 1 naming each mismatch.
"""
import copy
import http.client
import json
import os
import re
import subprocess
import sys
import tempfile
import time

import jsonschema
import yaml

BIN, SOURCE = sys.argv[1], sys.argv[2]
ADMIN = "openapi-test-admin-key-0123456789"
failures = []


def fail(msg):
    failures.append(msg)
    print("FAIL:", msg, file=sys.stderr)


with open(os.path.join(SOURCE, "docs/openapi.yaml"), "rb") as f:
    RAW = f.read()
DOC = yaml.safe_load(RAW)


def resolve(node, seen=()):
    """The node with every local $ref replaced by its target (3.1 allows
    siblings of $ref: they are merged in)."""
    if isinstance(node, dict):
        if "$ref" in node:
            ref = node["$ref"]
            if not ref.startswith("#/") or ref in seen:
                raise ValueError("unresolvable or recursive $ref " + ref)
            target = DOC
            for part in ref[2:].split("/"):
                target = target[part]
            merged = resolve(target, seen + (ref,))
            rest = {k: v for k, v in node.items() if k != "$ref"}
            if rest:
                merged = dict(merged)
                merged.update(resolve(rest, seen))
            return merged
        return {k: resolve(v, seen) for k, v in node.items()}
    if isinstance(node, list):
        return [resolve(v, seen) for v in node]
    return node


# 1. Lint.
if DOC.get("openapi") != "3.1.0":
    fail("openapi is not 3.1.0")
for key in ("info", "paths", "components"):
    if key not in DOC:
        fail("no " + key)
try:
    RESOLVED = resolve(copy.deepcopy(DOC))
except (KeyError, ValueError) as e:
    fail("a $ref does not resolve: %r" % (e,))
    RESOLVED = DOC
operation_ids = set()
for path, item in RESOLVED["paths"].items():
    for method, op in item.items():
        where = "%s %s" % (method.upper(), path)
        for field in ("operationId", "summary", "responses"):
            if field not in op:
                fail(where + ": no " + field)
        if op.get("operationId") in operation_ids:
            fail(where + ": operationId used twice")
        operation_ids.add(op.get("operationId"))
        for name in re.findall(r"{(\w+)}", path):
            if not any(p.get("in") == "path" and p.get("name") == name for p in op.get("parameters", [])):
                fail(where + ": path parameter {%s} not described" % name)
        for media in op.get("requestBody", {}).get("content", {}).values():
            if "example" in media:
                for e in jsonschema.Draft202012Validator(media["schema"]).iter_errors(media["example"]):
                    fail("%s: the request example does not match its schema: %s" % (where, e.message))
        for status, resp in op.get("responses", {}).items():
            for media in resp.get("content", {}).values():
                try:
                    jsonschema.Draft202012Validator.check_schema(media.get("schema", {}))
                except jsonschema.SchemaError as e:
                    fail("%s %s: not a JSON Schema: %s" % (where, status, e.message))
with open(os.path.join(SOURCE, "server/http_server.cc")) as f:
    routes = set()
    for method, path in re.findall(r'\{"(GET|POST|PUT|DELETE)", "(/[^"]*)"', f.read()):
        routes.add((method.lower(), re.sub(r":(\w+)", r"{\1}", path)))
described = {(m, p) for p, item in DOC["paths"].items() for m in item if m in ("get", "post", "put", "delete")}
for m, p in sorted(routes - described):
    fail("the server's %s %s is not in docs/openapi.yaml" % (m.upper(), p))
for m, p in sorted(described - routes):
    fail("docs/openapi.yaml describes %s %s, which the server does not have" % (m.upper(), p))


# The rendered reference is what the description renders to.
rendered = subprocess.run([sys.executable, os.path.join(SOURCE, "scripts/openapi_markdown.py"),
                           os.path.join(SOURCE, "docs/openapi.yaml")], capture_output=True, text=True, check=True).stdout
with open(os.path.join(SOURCE, "docs/API_REFERENCE.md")) as f:
    if f.read() != rendered:
        fail("docs/API_REFERENCE.md is not what docs/openapi.yaml renders to: "
             "python3 scripts/openapi_markdown.py > docs/API_REFERENCE.md")


# 2. Against the server.
def template_of(path):
    path = path.split("?")[0]
    for template in DOC["paths"]:
        pattern = "^" + re.sub(r"{\w+}", "[^/]+", re.escape(template).replace(r"\{", "{").replace(r"\}", "}")) + "$"
        if re.match(pattern, path):
            return template
    return None


def check(method, path, status, headers, body):
    where = "%s %s -> %d" % (method, path, status)
    template = template_of(path)
    if template is None or method.lower() not in RESOLVED["paths"][template]:
        fail(where + ": no operation describes it")
        return
    responses = RESOLVED["paths"][template][method.lower()]["responses"]
    resp = responses.get(str(status), responses.get("default"))
    if resp is None:
        fail(where + ": status not listed (%s)" % ", ".join(responses))
        return
    if status == 503 and headers.get("retry-after") != "1":
        fail(where + ": no Retry-After: 1")
    content = resp.get("content", {})
    ctype = headers.get("content-type", "").split(";")[0]
    if ctype not in content:
        fail(where + ": content type %s not listed" % ctype)
        return
    if ctype == "application/json":
        try:
            doc = json.loads(body)
        except ValueError:
            fail(where + ": not JSON")
            return
        errors = sorted(jsonschema.Draft202012Validator(content[ctype]["schema"]).iter_errors(doc), key=str)
        for e in errors[:3]:
            fail("%s: %s at %s" % (where, e.message, "/".join(map(str, e.absolute_path))))


def main():
    work = tempfile.mkdtemp(prefix="aisle-openapi-")
    subprocess.run([os.path.join(BIN, "aisle-train"), "--input", os.path.join(SOURCE, "data/sample/online_retail_sample.csv"),
                    "--format", "online_retail", "--publish_dir", os.path.join(work, "pub"), "--factors", "8",
                    "--iterations", "3", "--quiet"], check=True)
    with open(os.path.join(work, "admin"), "w") as f:
        f.write(ADMIN + "\n")
    log = open(os.path.join(work, "server.log"), "w")
    server = subprocess.Popen([os.path.join(BIN, "aisle-server"), "--model", os.path.join(work, "pub"),
                               "--catalog", os.path.join(SOURCE, "data/sample/catalog.csv"),
                               "--offers", os.path.join(SOURCE, "data/offers/online_retail_offers.json"),
                               "--events_dir", os.path.join(work, "events"), "--admin_keys", os.path.join(work, "admin"),
                               "--port", "0", "--access_log", "", "--max_body_bytes", "65536"],
                              stderr=log)
    try:
        port = None
        for _ in range(300):
            with open(os.path.join(work, "server.log")) as f:
                m = re.search(r"listening on 127\.0\.0\.1:(\d+)", f.read())
            if m:
                port = int(m.group(1))
                break
            time.sleep(0.05)
        if port is None:
            raise SystemExit("aisle-server did not start")

        def call(method, path, body=None, admin=False, raw=None):
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
            headers = {"X-API-Key": ADMIN} if admin else {}
            data = raw if raw is not None else (json.dumps(body) if body is not None else None)
            if data is not None:
                headers["Content-Type"] = "application/json"
            conn.request(method, path, body=data, headers=headers)
            r = conn.getresponse()
            payload = r.read()
            conn.close()
            check(method, path, r.status, {k.lower(): v for k, v in r.getheaders()}, payload)
            return r.status, payload

        product = "85123A"
        cases = [
            ("GET", "/healthz", None, False, 200),
            ("GET", "/readyz", None, False, 200),
            ("GET", "/v1/model", None, False, 200),
            ("GET", "/v1/customers/17850/recommendations?count=3&explain=true", None, False, 200),
            ("GET", "/v1/customers/17850/recommendations?mode=buy_again&count=5", None, False, 200),
            ("GET", "/v1/customers/17850/recommendations?category=holder&min_price=1&max_price=5&in_stock=false", None, False, 200),
            ("GET", "/v1/customers/nobody/recommendations", None, False, 200),
            ("GET", "/v1/customers/17850/recommendations?count=0", None, False, 400),
            ("GET", "/v1/customers/17850/recommendations?min_price=abc", None, False, 400),
            ("POST", "/v1/recommendations", {"products": [product, "71053"], "weights": [2, 1], "count": 3, "explain": True}, False, 200),
            ("POST", "/v1/recommendations", {"products": ["unknown-product"]}, False, 200),
            ("POST", "/v1/recommendations", {"products": [1, 2]}, False, 400),
            ("GET", "/v1/products/%s/similar?count=3" % product, None, False, 200),
            ("GET", "/v1/products/no-such-product/similar", None, False, 404),
            ("POST", "/v1/customers/17850/rank", {"products": [product, "71053", "nope"]}, False, 200),
            ("GET", "/v1/customers/17850/offers?count=2", None, False, 200),
            ("POST", "/v1/customers/17850/offers/impressions", {"offers": ["hearts", "no-such-offer"]}, False, 200),
            ("POST", "/v1/events", [{"customer_id": "17850", "product_id": product, "event": "purchase", "quantity": 2,
                                     "price": 2.55, "event_id": "o1-l1", "channel": "web", "country": "NL"}], False, 200),
            ("POST", "/v1/events", {"events": [{"customer_id": "c9", "product_id": product, "event": "view"}]}, False, 200),
            ("POST", "/v1/events", [{"customer_id": "17850", "product_id": product, "event": "teleport"}], False, 422),
            ("GET", "/v1/customers/17850/consent", None, False, 200),
            ("PUT", "/v1/customers/c9/consent", {"personalization": False}, False, 200),
            ("PUT", "/v1/customers/c9/consent", {"personalization": "no"}, False, 400),
            ("GET", "/v1/customers/c9/recommendations", None, False, 200),
            ("GET", "/v1/customers/17850/data", None, True, 200),
            ("GET", "/v1/customers/17850/data", None, False, 401),
            ("POST", "/v1/admin/reload", None, True, 200),
            ("DELETE", "/v1/customers/17850", None, True, 200),
            ("DELETE", "/v1/customers/17850", None, False, 401),
            ("GET", "/metrics", None, False, 200),
            ("GET", "/openapi.yaml", None, False, 200),
            ("GET", "/console", None, False, 200),
            ("GET", "/console/console.js", None, False, 200),
            ("GET", "/console/console.css", None, False, 200),
            ("GET", "/console/chart.js", None, False, 200),
            ("GET", "/console/nothing.js", None, False, 404),
            ("GET", "/v1/admin/models", None, True, 200),
            ("GET", "/v1/admin/models", None, False, 401),
            ("POST", "/v1/admin/rollback", {"version": 1}, True, 200),
            ("POST", "/v1/admin/rollback", {"version": 99}, True, 404),
            ("POST", "/v1/admin/rollback", {"version": "one"}, True, 400),
            ("GET", "/v1/admin/experiments", None, True, 404),
        ]
        for method, path, body, admin, want in cases:
            status, payload = call(method, path, body, admin)
            if status != want:
                fail("%s %s: %d, expected %d: %s" % (method, path, status, want, payload[:200]))
        # Malformed JSON, a body too large.
        status, _ = call("POST", "/v1/recommendations", raw="{not json")
        if status != 400:
            fail("malformed JSON: %d" % status)
        status, _ = call("POST", "/v1/recommendations", raw=json.dumps({"products": ["x" * 200] * 400}))
        if status != 413:
            fail("a body over --max_body_bytes: %d" % status)
        # The served description is the file.
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        conn.request("GET", "/openapi.yaml")
        r = conn.getresponse()
        if r.read() != RAW:
            fail("GET /openapi.yaml is not docs/openapi.yaml")
    finally:
        server.terminate()
        server.wait()
    print("openapi: %d operations, %d checks, %d failures" % (len(operation_ids), len(cases) + 3, len(failures)))
    sys.exit(1 if failures else 0)


main()
