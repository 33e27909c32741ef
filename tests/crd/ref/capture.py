#!/usr/bin/python3
"""Captures kube-apiserver's answers for the CRD reference cases in this
folder, for tests/crd/test_reference.c to compare against.

    source e2e/lib.sh; kc=$(host_up_shared)
    /usr/bin/python3 tests/crd/ref/capture.py "$kc"

Every request is a dry run (dryRun=All) except the Table capture, which
creates the probe CRD and one object and deletes them again. Writes
expect/<case>.json: {"code": HTTP status, "body": response JSON}."""
import glob
import json
import os
import sys
import time

from kubernetes import client, config

HERE = os.path.dirname(os.path.abspath(__file__))


def call(api, method, path, body=None, query=None, accept="application/json"):
    try:
        r = api.call_api(path, method, body=body, query_params=query or [],
                         header_params={"Accept": accept, "Content-Type": "application/json"},
                         auth_settings=["BearerToken"], _preload_content=False,
                         _return_http_data_only=True)
        return r.status, json.loads(r.data)
    except client.ApiException as e:
        return e.status, json.loads(e.body)


VOLATILE = ("uid", "creationTimestamp", "resourceVersion", "managedFields", "generation")


def save(name, code, body):
    """Writes a case, without the server-set metadata that changes per run."""
    meta = body.get("metadata") if isinstance(body, dict) else None
    if isinstance(meta, dict) and body.get("kind") not in ("Table", "Scale"):
        for k in VOLATILE:
            meta.pop(k, None)
    with open(os.path.join(HERE, "expect", name + ".json"), "w") as f:
        json.dump({"code": code, "body": body}, f, indent=1, sort_keys=True)
        f.write("\n")


def main():
    config.load_kube_config(sys.argv[1])
    api = client.ApiClient()
    crd_path = "/apis/apiextensions.k8s.io/v1/customresourcedefinitions"
    for f in sorted(glob.glob(os.path.join(HERE, "crds", "*.json"))):
        name = os.path.basename(f)[:-5]
        code, body = call(api, "POST", crd_path, json.load(open(f)), [("dryRun", "All")])
        save("crd-" + name, code, body)
    probe = json.load(open(os.path.join(HERE, "probe-crd.json")))
    pname = probe["metadata"]["name"]
    call(api, "DELETE", crd_path + "/" + pname)
    code, body = call(api, "POST", crd_path, probe)
    assert code == 201, body
    for _ in range(50):
        code, body = call(api, "GET", crd_path + "/" + pname)
        if any(c["type"] == "Established" and c["status"] == "True"
               for c in (body.get("status", {}).get("conditions") or [])):
            break
        time.sleep(0.2)
    save("probe-crd-status", code, body["status"])
    base = "/apis/%s/v1/namespaces/default/%s" % (probe["spec"]["group"],
                                                 probe["spec"]["names"]["plural"])
    for f in sorted(glob.glob(os.path.join(HERE, "objects", "*.json"))):
        name = os.path.basename(f)[:-5]
        obj = json.load(open(f))
        code, body = call(api, "POST", base, obj, [("dryRun", "All"), ("fieldValidation", "Ignore")])
        save("obj-" + name, code, body)
        code, body = call(api, "POST", base, obj, [("dryRun", "All"), ("fieldValidation", "Strict")])
        save("obj-" + name + "-strict", code, body)
    # A Table of a real object, then its scale.
    obj = json.load(open(os.path.join(HERE, "objects", "ok1.json")))
    code, body = call(api, "POST", base, obj)
    code, body = call(api, "GET", base + "/ok1", accept="application/json;as=Table;v=v1;g=meta.k8s.io")
    save("table-ok1", code, body)
    code, body = call(api, "GET", base + "/ok1/scale")
    save("scale-ok1", code, body)
    call(api, "DELETE", crd_path + "/" + pname)


if __name__ == "__main__":
    main()
