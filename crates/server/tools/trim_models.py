#!/usr/bin/env python3
"""Trims the botocore service models to what the Query-protocol codec needs.

Reads the EC2, ELBv2, IAM and STS models that the botocore package ships (JSON, Apache-2.0) and
writes crates/server/models/{ec2,elbv2,iam,sts}.json holding only the operations Underpass
implements (the names in the `actions!` registry of crates/server/src/actions/mod.rs, which is
`underpass_server::ACTIONS`) and the shapes their inputs, outputs and errors reach. Operations
that no model has (CreateAccount, CreateAgentJoinToken, ...) are Underpass's own and stay on the
JSON API.

Kept per shape: type, members (shape, locationName, queryName, flattened, xmlNamespace,
xmlAttribute), required, list member / map key and value (with their locationName), flattened,
timestampFormat, and for errors: exception, fault, error (code, httpStatusCode, senderFault).
Documentation, enums, patterns and bounds are dropped.

The checked-in models were generated from botocore 1.43.11. Regenerate after adding an action:

    python3 crates/server/tools/trim_models.py

and commit the changed models.
"""

import gzip
import json
import os
import re
import sys

SERVICES = {
    "ec2": "ec2/2016-11-15",
    "elbv2": "elbv2/2015-12-01",
    "iam": "iam/2010-05-08",
    "sts": "sts/2011-06-15",
}

HERE = os.path.dirname(os.path.abspath(__file__))
CRATE = os.path.dirname(HERE)
REGISTRY = os.path.join(CRATE, "src", "actions", "mod.rs")
OUT = os.path.join(CRATE, "models")

META_KEYS = ("apiVersion", "endpointPrefix", "protocol", "xmlNamespace", "signingName", "serviceId")
MEMBER_KEYS = ("shape", "locationName", "queryName", "flattened", "xmlNamespace", "xmlAttribute")
SHAPE_KEYS = ("type", "required", "flattened", "timestampFormat", "exception", "fault", "error")


def implemented_actions():
    """The action names of the `actions!` registry, in order."""
    with open(REGISTRY, encoding="utf-8") as f:
        text = f.read()
    start = text.index("actions! {")
    return re.findall(r'^\s*(?:read|write)\s+"([A-Za-z0-9]+)"\s*=>', text[start:], re.M)


def load_model(rel):
    import botocore

    base = os.path.join(os.path.dirname(botocore.__file__), "data", rel, "service-2.json")
    if os.path.exists(base):
        with open(base, encoding="utf-8") as f:
            return json.load(f), botocore.__version__
    with gzip.open(base + ".gz", "rt", encoding="utf-8") as f:
        return json.load(f), botocore.__version__


def member_ref(ref):
    return {k: ref[k] for k in MEMBER_KEYS if k in ref}


def trim_shape(shape):
    out = {k: shape[k] for k in SHAPE_KEYS if k in shape}
    if "members" in shape:
        out["members"] = {name: member_ref(ref) for name, ref in shape["members"].items()}
    for k in ("member", "key", "value"):
        if k in shape:
            out[k] = member_ref(shape[k])
    return out


def reachable(shapes, roots):
    seen, todo = set(), list(roots)
    while todo:
        name = todo.pop()
        if name in seen:
            continue
        seen.add(name)
        shape = shapes[name]
        refs = list(shape.get("members", {}).values())
        refs += [shape[k] for k in ("member", "key", "value") if k in shape]
        todo.extend(r["shape"] for r in refs)
    return seen


def trim(model, wanted):
    ops = {}
    roots = []
    for name in wanted:
        op = model["operations"].get(name)
        if op is None:
            continue
        t = {"name": name}
        if "input" in op:
            t["input"] = {"shape": op["input"]["shape"]}
            roots.append(op["input"]["shape"])
        if "output" in op:
            t["output"] = {k: op["output"][k] for k in ("shape", "resultWrapper") if k in op["output"]}
            roots.append(op["output"]["shape"])
        if op.get("errors"):
            t["errors"] = [{"shape": e["shape"]} for e in op["errors"]]
            roots.extend(e["shape"] for e in op["errors"])
        ops[name] = t
    shapes = model["shapes"]
    keep = reachable(shapes, roots)
    return {
        "metadata": {k: model["metadata"][k] for k in META_KEYS if k in model["metadata"]},
        "operations": ops,
        "shapes": {name: trim_shape(shapes[name]) for name in sorted(keep)},
    }


def main():
    wanted = implemented_actions()
    if not wanted:
        sys.exit("no actions found in " + REGISTRY)
    os.makedirs(OUT, exist_ok=True)
    covered = set()
    for service, rel in SERVICES.items():
        model, version = load_model(rel)
        trimmed = trim(model, wanted)
        trimmed["metadata"]["botocoreVersion"] = version
        covered.update(trimmed["operations"])
        path = os.path.join(OUT, service + ".json")
        with open(path, "w", encoding="utf-8") as f:
            json.dump(trimmed, f, indent=1, sort_keys=True)
            f.write("\n")
        print(f"{path}: {len(trimmed['operations'])} operations, {len(trimmed['shapes'])} shapes")
    only = [a for a in wanted if a not in covered]
    print("Underpass-only (JSON API):", ", ".join(only))


if __name__ == "__main__":
    main()
