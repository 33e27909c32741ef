#!/usr/bin/env python3
"""cli/hotpath.py: builds cli/hotpath.ld, the layout script bin/vkube is linked
with (see the Makefile and cli/hotpath.sh, which drives this).

Why: bin/vkube is one static file. The kernel maps a file's pages into a
process 64 KiB at a time around each page it touches (fault-around), so an
idle `vkube serve` holds every 64 KiB window of code and constant data that
start-up and a few requests touch, spread over the whole 13 MB file. Grouping
the input sections that are touched (whole object files' .text, .rodata,
.data.rel.ro, .data: the Debian archives are not built with
-ffunction-sections) at the front of their output sections keeps that set
dense.

Subcommands (STATE is a text file of "TIER<TAB>FILE<TAB>SECTION" lines, MAP a
GNU ld map of the profiled binary, -Wl,-Map):
  add STATE MAP TIER callgrind FILE   executed instructions of a callgrind
                                      profile (--dump-instr=yes
                                      --compress-pos=no --compress-strings=no)
  add STATE MAP TIER perf FILE T0 T1  page faults from `perf script -F
                                      time,addr` output between CLOCK_MONOTONIC
                                      times T0 and T1 (ns)
  data STATE MAP BYTES                the data sections of at most BYTES of
                                      every object whose code is in STATE, in
                                      the same tier: code mostly reads its own
                                      object's tables and strings, and a fault
                                      only reveals one section per window
  script STATE                        prints the linker script
`add` prints how many sections it added. TIER 1 (touched by start-up and an
idle second) goes before TIER 2 (touched by the first kubectl requests), and
TIER 3 (what a syncer with a host cluster adds) after both.
"""
import bisect
import re
import sys

GROUPS = ("text", "rodata", "data.rel.ro", "data")


def group_of(sec):
    """The output section group an input section name belongs to, or None."""
    if sec.startswith(".text"):
        return "text"
    if sec.startswith(".rodata"):
        return "rodata"
    if sec.startswith(".data.rel.ro"):
        return "data.rel.ro"
    if sec == ".data" or sec.startswith(".data."):
        return "data"
    return None


def load_map(path):
    """Input sections of a GNU ld map: sorted (addr, size, section, file)."""
    ins, pend, started = [], None, False
    for line in open(path):
        line = line.rstrip("\n")
        if not started:
            started = line.startswith("Linker script and memory map")
            continue
        m = re.match(r"^ (\.\S+)\s+0x([0-9a-f]+)\s+0x([0-9a-f]+)\s+(\S.*)$", line)
        if m:
            ins.append((int(m.group(2), 16), int(m.group(3), 16), m.group(1), m.group(4)))
            pend = None
            continue
        m = re.match(r"^ (\.\S+)$", line)
        if m:
            pend = m.group(1)
            continue
        m = re.match(r"^\s+0x([0-9a-f]+)\s+0x([0-9a-f]+)\s+(\S.*)$", line)
        if m and pend:
            ins.append((int(m.group(1), 16), int(m.group(2), 16), pend, m.group(3)))
        pend = None
    ins = sorted(x for x in ins if x[0] and x[1] and group_of(x[2]))
    return ins


def pattern(path):
    """How the script names an input file: archive members as *lib.a:member,
    our objects by their path, other files (crt*.o) by their base name."""
    m = re.match(r"^.*/([^/]+\.a)\((.+)\)$", path)
    if m:
        return "*%s:%s" % (m.group(1), m.group(2))
    if path.startswith("/"):
        return "*/" + path.rsplit("/", 1)[1]
    return path


def callgrind_addrs(path):
    """Executed instruction addresses of the first object a callgrind profile
    names (the profiled binary)."""
    out, ob, first = [], None, None
    for line in open(path):
        if line.startswith("ob="):
            ob = line[3:].strip()
            first = first or ob
        elif line.startswith("0x") and ob == first:
            out.append(int(line.split()[0], 16))
    return out


def perf_addrs(path, t0, t1):
    out = []
    for line in open(path):
        f = line.split()
        if len(f) < 2 or not f[0].endswith(":"):
            continue
        t = round(float(f[0][:-1]) * 1e9)
        if t0 <= t < t1:
            out.append(int(f[1], 16))
    return out


def load_state(path):
    state = {}
    try:
        for line in open(path):
            tier, f, sec = line.rstrip("\n").split("\t")
            state[(f, sec)] = int(tier)
    except FileNotFoundError:
        pass
    return state


def cmd_add(args):
    state_path, map_path, tier, kind = args[0], args[1], int(args[2]), args[3]
    if kind == "callgrind":
        addrs = callgrind_addrs(args[4])
    else:
        addrs = perf_addrs(args[4], int(args[5]), int(args[6]))
    ins = load_map(map_path)
    starts = [x[0] for x in ins]
    state = load_state(state_path)
    added = 0
    for a in sorted(set(addrs)):
        k = bisect.bisect_right(starts, a) - 1
        if k < 0 or a >= ins[k][0] + ins[k][1]:
            continue
        key = (pattern(ins[k][3]), ins[k][2])
        if key not in state or state[key] > tier:
            added += key not in state
            state[key] = tier
    save_state(state_path, state)
    print(added)


def save_state(path, state):
    with open(path, "w") as f:
        for (fp, sec), t in sorted(state.items()):
            f.write("%d\t%s\t%s\n" % (t, fp, sec))


def cmd_data(args):
    state_path, map_path, limit = args[0], args[1], int(args[2])
    state = load_state(state_path)
    code = {}
    for (fp, sec), t in state.items():
        if group_of(sec) == "text":
            code[fp] = min(t, code.get(fp, t))
    added = 0
    for _, size, sec, f in load_map(map_path):
        fp = pattern(f)
        if fp not in code or group_of(sec) == "text" or size > limit:
            continue
        key = (fp, sec)
        if key not in state or state[key] > code[fp]:
            added += key not in state
            state[key] = code[fp]
    save_state(state_path, state)
    print(added)


def cmd_script(args):
    state = load_state(args[0])
    print("/* cli/hotpath.ld: GENERATED by cli/hotpath.sh (cli/hotpath.py), do not edit.\n"
          " * The input sections an idle `vkube serve` touches (tier 1: start-up and\n"
          " * an idle second; tier 2: the first kubectl requests; tier 3: the syncer\n"
          " * with a host cluster) go first in their\n"
          " * output sections, so the pages the kernel maps stay few (cli/hotpath.py\n"
          " * says why). Everything else keeps the default layout after them. */")
    for g in GROUPS:
        ents = sorted((t, fp, sec) for (fp, sec), t in state.items() if group_of(sec) == g)
        print("SECTIONS\n{\n  .vkhot.%s :\n  {" % g)
        for t, fp, sec in ents:
            print("    %s(%s)" % (fp, sec))
        print("  }\n}\nINSERT BEFORE .%s;" % g)


if __name__ == "__main__":
    if len(sys.argv) >= 7 and sys.argv[1] == "add":
        cmd_add(sys.argv[2:])
    elif len(sys.argv) == 5 and sys.argv[1] == "data":
        cmd_data(sys.argv[2:])
    elif len(sys.argv) == 3 and sys.argv[1] == "script":
        cmd_script(sys.argv[2:])
    else:
        sys.exit(__doc__)
