#!/usr/bin/env python3
"""Renders docs/openapi.yaml as Markdown (docs/API_REFERENCE.md).

  scripts/openapi_markdown.py [OPENAPI_YAML] > docs/API_REFERENCE.md

One section per operation: method and path, who may call it, parameters,
request body and responses with their schemas written out as field lists.
tests/server/openapi_test.py fails when the committed page is not what this
prints, so the rendered reference never drifts from the description.
"""
import os
import sys

import yaml

path = sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(__file__), "..", "docs", "openapi.yaml")
with open(path) as f:
    DOC = yaml.safe_load(f)


def ref_name(node):
    return node["$ref"].rsplit("/", 1)[1] if isinstance(node, dict) and "$ref" in node else None


def target(node):
    if isinstance(node, dict) and "$ref" in node:
        t = DOC
        for part in node["$ref"][2:].split("/"):
            t = t[part]
        return target(t)
    return node


def type_of(schema):
    name = ref_name(schema)
    if name:
        return "[%s](#%s)" % (name, name.lower())
    schema = schema or {}
    if "oneOf" in schema:
        return " or ".join(type_of(s) for s in schema["oneOf"])
    if "const" in schema:
        return "`%s`" % json_text(schema["const"])
    if "enum" in schema:
        return "one of " + ", ".join("`%s`" % json_text(v) for v in schema["enum"])
    t = schema.get("type", "any")
    if isinstance(t, list):
        t = " or ".join(t)
    if t == "array":
        return "array of " + type_of(schema.get("items", {}))
    return t


def json_text(v):
    return "null" if v is None else str(v).lower() if isinstance(v, bool) else str(v)


def describe(schema):
    """Schema description cell: its description and its bounds."""
    s = target(schema) or {}
    text = " ".join(s.get("description", "").split())
    bounds = ["%s %s" % (word, json_text(s[key])) for key, word in
              (("minimum", "min"), ("maximum", "max"), ("maxLength", "max length"), ("maxItems", "max items"),
               ("default", "default")) if key in s]
    return (text + " (%s)" % ", ".join(bounds) if text and bounds else text or ", ".join(bounds))


out = []
info = DOC["info"]
out.append("# API reference\n")
out.append("Generated from [openapi.yaml](openapi.yaml) (OpenAPI %s, %s %s) by `scripts/openapi_markdown.py`;"
           " the server serves the description at `GET /openapi.yaml`. The rules behind each field: "
           "[API.md](API.md).\n" % (DOC["openapi"], info["title"], info["version"]))
out.append("| method | path | summary | key |\n|---|---|---|---|")
for p, item in DOC["paths"].items():
    for m, op in item.items():
        sec = op.get("security", DOC.get("security", []))
        key = ", ".join(k for s in sec for k in s) or "none"
        out.append("| %s | [`%s`](#op-%s) | %s | %s |" % (m.upper(), p, op["operationId"].lower(), op["summary"], key))
out.append("")
for p, item in DOC["paths"].items():
    for m, op in item.items():
        out.append('<a id="op-%s"></a>\n### %s `%s`\n' % (op["operationId"].lower(), m.upper(), p))
        out.append(op["summary"] + ".")
        if op.get("description"):
            out.append("\n" + " ".join(op["description"].split()))
        params = [target(x) for x in op.get("parameters", [])]
        if params:
            out.append("\n| parameter | in | type | |\n|---|---|---|---|")
            for x in params:
                text = " ".join((x.get("description", "") + " " + describe(x.get("schema"))).split())
                out.append("| `%s`%s | %s | %s | %s |" % (x["name"], " (required)" if x.get("required") else "", x["in"],
                                                         type_of(x.get("schema")), text))
        body = op.get("requestBody")
        if body:
            for media, c in body["content"].items():
                out.append("\nRequest body (`%s`): %s" % (media, type_of(c["schema"])))
                if "example" in c:
                    import json
                    out.append("\n```json\n%s\n```" % json.dumps(c["example"]))
        out.append("\n| status | meaning | body |\n|---|---|---|")
        for status, resp in op["responses"].items():
            name = ref_name(resp)
            r = target(resp)
            bodies = ", ".join("%s (`%s`)" % (type_of(c.get("schema")), media) for media, c in r.get("content", {}).items())
            out.append("| %s | %s | %s |" % (status, " ".join(r["description"].split()), bodies))
        out.append("")
out.append("## Schemas\n")
for name, schema in DOC["components"]["schemas"].items():
    out.append('<a id="%s"></a>\n### %s\n' % (name.lower(), name))
    if schema.get("description"):
        out.append(" ".join(schema["description"].split()) + "\n")
    props = dict(schema.get("properties", {}))
    for part in schema.get("allOf", []):
        for k, v in target(part).get("properties", {}).items():
            if props.get(k) is True or k not in props:
                props[k] = v
    if props:
        required = set(schema.get("required", []))
        out.append("| field | type | |\n|---|---|---|")
        for k, v in props.items():
            if v is True:
                continue
            out.append("| `%s`%s | %s | %s |" % (k, " (required)" if k in required else "", type_of(v), describe(v)))
        out.append("")
    else:
        out.append("%s\n" % type_of(schema))
print("\n".join(out))
