#!/usr/bin/env python3
"""k8s-schema: generates vkube's Kubernetes schema tables (build/gen/proxy/schema_gen.c).

Reads, from the Go module cache (filled by `go mod download`), the
generated.proto files of k8s.io/api (every version: GA, beta and alpha), k8s.io/apimachinery
(meta/v1, runtime, resource, intstr) and k8s.io/apiextensions-apiserver
(apiextensions/v1), plus the Go struct tags of the same packages (for JSON
names, omitempty, pointers and inline embedding, which the .proto files do
not carry). Emits static C tables consumed by proxy/schema.c,
proxy/protobuf.c and proxy/openapi.c. Nothing upstream is copied into the
repository: this runs at build time.

Usage: gen.py OUT.c API_DIR APIMACHINERY_DIR APIEXTENSIONS_DIR
"""
import hashlib
import os
import re
import sys

SCALARS = {
    "string": "VK_SF_STRING",
    "int32": "VK_SF_INT32",
    "int64": "VK_SF_INT64",
    "uint32": "VK_SF_UINT32",
    "uint64": "VK_SF_UINT64",
    "bool": "VK_SF_BOOL",
    "double": "VK_SF_DOUBLE",
    "float": "VK_SF_FLOAT",
    "bytes": "VK_SF_BYTES",
}

# Messages whose JSON form is not an object of their fields (custom Go
# MarshalJSON in apimachinery / apiextensions).
SPECIALS = {
    "io.k8s.apimachinery.pkg.apis.meta.v1.Time": "VK_SM_TIME",
    "io.k8s.apimachinery.pkg.apis.meta.v1.MicroTime": "VK_SM_MICROTIME",
    "io.k8s.apimachinery.pkg.apis.meta.v1.Duration": "VK_SM_DURATION",
    "io.k8s.apimachinery.pkg.apis.meta.v1.FieldsV1": "VK_SM_RAWJSON",
    "io.k8s.apimachinery.pkg.api.resource.Quantity": "VK_SM_QUANTITY",
    "io.k8s.apimachinery.pkg.api.resource.QuantityValue": "VK_SM_QUANTITY",
    "io.k8s.apimachinery.pkg.util.intstr.IntOrString": "VK_SM_INTORSTRING",
    "io.k8s.apimachinery.pkg.runtime.RawExtension": "VK_SM_RAWEXT",
    "io.k8s.apiextensions-apiserver.pkg.apis.apiextensions.v1.JSON": "VK_SM_RAWJSON",
    "io.k8s.apiextensions-apiserver.pkg.apis.apiextensions.v1.JSONSchemaPropsOrBool": "VK_SM_SCHEMA_OR_BOOL",
    "io.k8s.apiextensions-apiserver.pkg.apis.apiextensions.v1.JSONSchemaPropsOrArray": "VK_SM_SCHEMA_OR_ARRAY",
    "io.k8s.apiextensions-apiserver.pkg.apis.apiextensions.v1.JSONSchemaPropsOrStringArray": "VK_SM_SCHEMA_OR_STRINGS",
}


ENUM_TYPES = set()   # Go string types marked +enum
ENUM_CONSTS = {}     # Go type -> [(value, const name, comment lines)]


def enum_of(gotype):
    """(values, doc suffix) for a field of Go type gotype, or (None, None)."""
    base = gotype.lstrip("*").replace("[]", "").split(".")[-1]
    if base not in ENUM_TYPES or base not in ENUM_CONSTS:
        return None, None
    seen, items = set(), []
    for value, name, comment in ENUM_CONSTS[base]:
        if value in seen:
            continue
        seen.add(value)
        text = " ".join(l for l in comment if l and not l.startswith("+"))
        if text.startswith(name + " "):
            text = text[len(name) + 1:]
        items.append((value, text))
    items.sort()
    doc = "Possible enum values:\n" + "\n".join(
        (' - `"%s"` %s' % (v, t)).rstrip() for v, t in items)
    return [v for v, _ in items], doc


def c_str(s):
    if s is None:
        return "NULL"
    out = []
    for ch in s:
        o = ord(ch)
        if ch == "\\":
            out.append("\\\\")
        elif ch == '"':
            out.append('\\"')
        elif ch == "\n":
            out.append("\\n")
        elif ch == "?":
            out.append("\\?")  # avoid trigraphs
        elif o < 32:
            out.append("\\%03o" % o)
        else:
            out.append(ch)
    return '"' + "".join(out) + '"'


def doc_from_comment(lines):
    """Comment lines -> (doc text, markers dict). Wrapped lines join with a
    space, blank lines become paragraph breaks, +markers and TODO lines drop."""
    markers = {}
    paras, cur = [], []
    skipping_todo = False
    for raw in lines:
        line = raw.strip()
        if line.startswith("+"):
            m = re.match(r"\+([\w.:-]+)(?:=(.*))?$", line)
            if m:
                markers.setdefault(m.group(1), []).append((m.group(2) or "").strip())
            continue
        if line.startswith("TODO"):
            skipping_todo = True
            continue
        if not line:
            skipping_todo = False
            if cur:
                paras.append(" ".join(cur))
                cur = []
            continue
        if line == "---":
            break
        if skipping_todo:
            continue
        cur.append(line)
    if cur:
        paras.append(" ".join(cur))
    return "\n\n".join(paras), markers


def parse_proto(path):
    """Returns (proto package, go package, [message dicts])."""
    text = open(path, encoding="utf-8").read()
    pkg = re.search(r"^package ([\w.]+);", text, re.M).group(1)
    gopkg = re.search(r'^option go_package = "([^"]+)";', text, re.M).group(1)
    msgs = []
    comment = []
    cur = None
    for line in text.splitlines():
        s = line.strip()
        if s.startswith("//"):
            comment.append(s[2:][1:] if s[2:3] == " " else s[2:])
            continue
        if cur is None:
            m = re.match(r"message (\w+) \{", s)
            if m:
                doc, markers = doc_from_comment(comment)
                cur = {"name": m.group(1), "doc": doc, "markers": markers, "fields": []}
            comment = []
            continue
        if s == "}":
            msgs.append(cur)
            cur = None
            comment = []
            continue
        m = re.match(r"(optional|repeated) ([\w.]+) (\w+) = (\d+);", s)
        mm = re.match(r"map<(\w+), ([\w.]+)> (\w+) = (\d+);", s)
        if m or mm:
            doc, markers = doc_from_comment(comment)
            if m:
                f = {"label": m.group(1), "type": m.group(2), "name": m.group(3),
                     "num": int(m.group(4)), "map": None}
            else:
                f = {"label": "map", "type": mm.group(2), "name": mm.group(3),
                     "num": int(mm.group(4)), "map": mm.group(1)}
            f["doc"], f["markers"] = doc, markers
            cur["fields"].append(f)
        comment = []
    return pkg, gopkg, msgs


def parse_go(dirpath):
    """Go struct tags of a package: {struct: {proto number: info}}, plus
    list-wrapper types ({name: element type}) and the set of top-level object
    types (those embedding metav1.TypeMeta)."""
    structs, wrappers, objects = {}, {}, set()
    group = None
    for fn in sorted(os.listdir(dirpath)):
        if not fn.endswith(".go") or fn.endswith("_test.go") or fn.startswith("zz_") \
                or fn == "generated.pb.go":
            continue
        text = open(os.path.join(dirpath, fn), encoding="utf-8").read()
        g = re.search(r'^const GroupName = "([^"]*)"', text, re.M)
        if g:
            group = g.group(1)
        for m in re.finditer(r"^type (\w+) \[\]([\w.]+)\s*$", text, re.M):
            wrappers[m.group(1)] = m.group(2)
        lines = text.splitlines()
        for i, line in enumerate(lines):
            m = re.match(r"type (\w+) string\s*$", line)
            if m:
                j = i - 1
                while j >= 0 and lines[j].startswith("//"):
                    if lines[j].strip() == "// +enum":
                        ENUM_TYPES.add(m.group(1))
                    j -= 1
            m = re.match(r"\s+(\w+)\s+(\w+)\s*=\s*\"([^\"]*)\"\s*$", line)
            if m:
                j, comment = i - 1, []
                while j >= 0 and lines[j].strip().startswith("//"):
                    comment.insert(0, lines[j].strip()[2:].strip())
                    j -= 1
                ENUM_CONSTS.setdefault(m.group(2), []).append((m.group(3), m.group(1), comment))
        for m in re.finditer(r"^type (\w+) struct \{\n(.*?)^\}", text, re.M | re.S):
            name, body = m.group(1), m.group(2)
            fields = {}
            for line in body.splitlines():
                s = line.strip()
                if not s or s.startswith("//") or "`" not in s:
                    continue
                before, tag = s.split("`", 1)
                tags = dict(re.findall(r'(\w+):"([^"]*)"', tag))
                toks = before.split()
                if len(toks) == 1:
                    gotype, embedded = toks[0], True
                else:
                    gotype, embedded = " ".join(toks[1:]), False
                jparts = tags.get("json", "").split(",")
                if embedded and gotype.endswith("TypeMeta") and "inline" in jparts:
                    objects.add(name)
                pb = tags.get("protobuf", "").split(",")
                if len(pb) < 2 or not pb[1].isdigit():
                    continue
                num = int(pb[1])
                fields[num] = {
                    "json": jparts[0],
                    "omitempty": "omitempty" in jparts,
                    "inline": "inline" in jparts or (embedded and jparts[0] == ""),
                    "pointer": gotype.startswith("*"),
                    "gotype": gotype,
                }
            structs[name] = fields
    return structs, wrappers, objects, group


def openapi_prefix(gopkg):
    parts = gopkg.split("/")
    host = ".".join(reversed(parts[0].split(".")))
    return ".".join([host] + parts[1:])


def main():
    if len(sys.argv) != 5:
        raise SystemExit(__doc__)
    out, api_dir, am_dir, ext_dir = sys.argv[1:5]
    for d in (api_dir, am_dir, ext_dir):
        if not d or not os.path.isdir(d):
            raise SystemExit("k8s-schema: module directory %r missing (go mod download failed?)" % d)
    sources = []  # (proto path, go dir)
    for grp in sorted(os.listdir(api_dir)):
        gdir = os.path.join(api_dir, grp)
        if not os.path.isdir(gdir):
            continue
        for ver in sorted(os.listdir(gdir)):
            if re.fullmatch(r"v\d+((alpha|beta)\d+)?", ver) and os.path.exists(os.path.join(gdir, ver, "generated.proto")):
                sources.append(os.path.join(gdir, ver))
    for sub in ("pkg/apis/meta/v1", "pkg/runtime", "pkg/api/resource", "pkg/util/intstr",
                "pkg/runtime/schema"):
        sources.append(os.path.join(am_dir, sub))
    sources.append(os.path.join(ext_dir, "pkg/apis/apiextensions/v1"))

    msgs = {}  # openapi name -> message
    proto_to_openapi = {}
    kinds = []
    for d in sources:
        pkg, gopkg, pmsgs = parse_proto(os.path.join(d, "generated.proto"))
        structs, wrappers, objects, group = parse_go(d)
        prefix = openapi_prefix(gopkg)
        version = os.path.basename(d)
        for m in pmsgs:
            full = prefix + "." + m["name"]
            m["full"], m["pkg"] = full, pkg
            proto_to_openapi[pkg + "." + m["name"]] = full
            gofields = structs.get(m["name"], {})
            m["wrapper"] = m["name"] in wrappers and len(m["fields"]) == 1 \
                and m["fields"][0]["name"] == "items"
            for f in m["fields"]:
                gi = gofields.get(f["num"])
                if gi is None:
                    gi = {"json": f["name"], "omitempty": "optional" in f["markers"],
                          "inline": False, "pointer": False, "gotype": ""}
                f["go"] = gi
            msgs[full] = m
            if m["name"] in objects and group is not None:
                kinds.append((group, version, m["name"], full))
    # Resolve type references.
    for m in msgs.values():
        for f in m["fields"]:
            t = f["type"]
            if t in SCALARS:
                f["ref"] = None
                continue
            cands = [m["pkg"] + "." + t, t.lstrip(".")]
            ref = next((proto_to_openapi[c] for c in cands if c in proto_to_openapi), None)
            if ref is None:
                raise SystemExit("unresolved type %s in %s" % (t, m["full"]))
            f["ref"] = ref
    names = sorted(msgs)
    index = {n: i for i, n in enumerate(names)}
    kinds.sort()

    o = []
    o.append("/* generated by tools/k8s-schema/gen.py from k8s.io/api, k8s.io/apimachinery and")
    o.append(" * k8s.io/apiextensions-apiserver; generated, do not edit. */")
    o.append('#include "proxy/schema.h"')
    o.append("")
    o.append("const vk_schema_field_t vk_schema_gen_fields[] = {")
    first = {}
    nf = 0
    for n in names:
        m = msgs[n]
        first[n] = nf
        for f in m["fields"]:
            g = f["go"]
            flags = []
            if f["label"] == "repeated":
                flags.append("VK_SF_REPEATED")
            if f["label"] == "map":
                flags.append("VK_SF_MAP")
            if g["pointer"]:
                flags.append("VK_SF_POINTER")
            if g["omitempty"]:
                flags.append("VK_SF_OMITEMPTY")
            if g["inline"]:
                flags.append("VK_SF_INLINE")
            if "optional" in f["markers"]:
                flags.append("VK_SF_OPTIONAL")
            if g["gotype"].lstrip("*").split(".")[-1] == "ResourceList":
                flags.append("VK_SF_RESOURCELIST")
            mk = f["markers"]
            ps = (mk.get("patchStrategy") or [None])[0]
            pk = (mk.get("patchMergeKey") or [None])[0]
            lt = (mk.get("listType") or [None])[0]
            lk = ",".join(mk["listMapKey"]) if "listMapKey" in mk else None
            typ = SCALARS.get(f["type"], "VK_SF_MESSAGE")
            keyt = SCALARS.get(f["map"], "0") if f["map"] else "0"
            ref = index[f["ref"]] if f["ref"] else 0
            json_name = g["json"] if g["json"] else f["name"]
            mt = (mk.get("mapType") or [None])[0]
            values, edoc = enum_of(g["gotype"]) if f["type"] == "string" else (None, None)
            doc = f["doc"] or None
            if edoc:
                doc = (doc + "\n\n" + edoc) if doc else edoc
            o.append("    {%s, %s, %s, %s, %s, %s, %d, %d, %s, %s, %s, %s, %s}," % (
                c_str(json_name), c_str(doc), c_str(ps), c_str(pk), c_str(lt),
                c_str(lk), f["num"], ref, typ, keyt, "|".join(flags) or "0", c_str(mt),
                c_str("\n".join(values)) if values else "NULL"))
            nf += 1
    o.append("};")
    o.append("")
    # Messages that hold a resource.Quantity somewhere below them (the write
    # path canonicalises quantities and skips everything else).
    has_q = {n for n in names if SPECIALS.get(n) == "VK_SM_QUANTITY"}
    changed = True
    while changed:
        changed = False
        for n in names:
            if n in has_q or SPECIALS.get(n):
                continue
            if any(f["ref"] in has_q for f in msgs[n]["fields"]):
                has_q.add(n)
                changed = True
    o.append("const vk_schema_msg_t vk_schema_gen_msgs[] = {")
    for n in names:
        m = msgs[n]
        special = SPECIALS.get(n, "VK_SM_WRAPLIST" if m["wrapper"] else "VK_SM_NONE")
        st = (m["markers"].get("structType") or [None])[0]
        o.append("    {%s, %s, %d, %d, %s, %s, %d}," % (c_str(n), c_str(m["doc"] or None), first[n],
                                                      len(m["fields"]), special, c_str(st),
                                                      1 if n in has_q else 0))
    o.append("};")
    o.append("const size_t vk_schema_gen_nmsgs = %d;" % len(names))
    o.append("")
    o.append("const vk_schema_kind_t vk_schema_gen_kinds[] = {")
    for g, v, k, full in kinds:
        o.append("    {%s, %s, %s, %d}," % (c_str(g), c_str(v), c_str(k), index[full]))
    o.append("};")
    o.append("const size_t vk_schema_gen_nkinds = %d;" % len(kinds))
    body = "\n".join(o) + "\n"
    digest = hashlib.sha256(body.encode("utf-8")).hexdigest()
    o.append("/* sha256 of the tables above: changes whenever any schema content does. */")
    o.append('const char vk_schema_gen_digest[] = "%s";' % digest)
    tmp = out + ".tmp"
    with open(tmp, "w", encoding="utf-8") as fh:
        fh.write("\n".join(o) + "\n")
    os.replace(tmp, out)


if __name__ == "__main__":
    main()
