"""Quantities as the real kube-apiserver returns them, against vkube.

Usage: quantity_host.py VKUBE_KUBECONFIG HOST_KUBECONFIG < inputs. For every
input line (a quantity string) it creates, with dryRun=All, a ResourceQuota
whose spec.hard.cpu is that string on both servers, once as a JSON body and
once as a protobuf body (hand-built, carrying the string verbatim, which a Go
client never sends but any other client may), and compares what each server
answers: the status code and, on success, spec.hard.cpu, else the Status
message. A line "pb-only <input>" is sent as protobuf only. Prints
"ok quantity:host-<json|pb>-<input>" / "not ok ... - <diff>".
Started by tests/suites/27-quantity.sh."""
import json
import sys

from kubernetes import config
from kubernetes.client.rest import ApiException

vk = config.new_client_from_config(sys.argv[1])
host = config.new_client_from_config(sys.argv[2])
PATH = "/api/v1/namespaces/default/resourcequotas?dryRun=All"


def call(api, body, ctype):
    try:
        r = api.call_api(PATH, "POST", body=body, header_params={
            "Accept": "application/json", "Content-Type": ctype},
            auth_settings=["BearerToken"], _preload_content=False, _return_http_data_only=False)
        return r[0].status, json.loads(r[0].data or b"null")
    except ApiException as e:
        try:
            return e.status, json.loads(e.body)
        except ValueError:
            return e.status, None


def varint(n):
    out = bytearray()
    while True:
        b = n & 0x7F
        n >>= 7
        if n:
            out.append(b | 0x80)
        else:
            out.append(b)
            return bytes(out)


def field(num, payload):
    """A length-delimited protobuf field."""
    return varint(num << 3 | 2) + varint(len(payload)) + payload


def pb_body(q):
    meta = field(1, b"q")
    entry = field(1, b"cpu") + field(2, field(1, q.encode()))
    spec = field(1, entry)
    raw = field(1, meta) + field(2, spec)
    typemeta = field(1, b"v1") + field(2, b"ResourceQuota")
    return b"k8s\0" + field(1, typemeta) + field(2, raw) + field(3, b"") + field(4, b"")


def answer(status, obj):
    if status in (200, 201):
        return status, ((obj or {}).get("spec") or {}).get("hard", {}).get("cpu")
    return status, (obj or {}).get("message")


for line in sys.stdin:
    q = line.rstrip("\n")
    hows = ("json", "pb")
    if q.startswith("pb-only "):  # what the JSON path does not check yet
        q, hows = q[len("pb-only "):], ("pb",)
    for how in hows:
        if how == "json":
            # A dict: the client encodes it (a str would be encoded twice).
            body = {"apiVersion": "v1", "kind": "ResourceQuota",
                    "metadata": {"name": "q"}, "spec": {"hard": {"cpu": q}}}
            ctype = "application/json"
        else:
            body, ctype = pb_body(q), "application/vnd.kubernetes.protobuf"
        want = answer(*call(host, body, ctype))
        got = answer(*call(vk, body, ctype))
        name = "quantity:host-%s-%s" % (how, q.replace(" ", "_"))
        if got == want:
            print("ok", name)
        else:
            print("not ok %s - vkube %s %r, kube-apiserver %s %r" % (name, got[0], got[1], want[0], want[1]))
    sys.stdout.flush()
