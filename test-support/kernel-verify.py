#!/usr/bin/env python3
"""Ask the running Linux kernel's verifier about a program (the oracle of Kestrel's verifier tests).

usage: kernel-verify.py --prog-type tracepoint|socket_filter|kprobe|xdp [--gpl 0|1] < request.json
request: {"insns": "<hex of the raw 8-byte slots>", "maps": [{"name","type","keySize","valueSize","maxEntries","flags"}]}
prints:  {"available": true, "ok": bool, "errno": int, "log": str}
     or  {"available": false, "reason": str}

Maps are created with BPF_MAP_CREATE; `lddw src=1 imm=k` (and src=2, map value) are patched to the
k-th map's fd; src=5/6 (map by index) become 1/2. The program is loaded with BPF_PROG_LOAD,
log_level 1 and a 16 MiB log; if the log overflows (ENOSPC) it is loaded again without a log so
that the verdict is still known. Nothing stays loaded: every fd is closed before exit.
"""
import ctypes
import json
import os
import struct
import sys

NR_BPF = 321  # x86-64
BPF_MAP_CREATE = 0
BPF_PROG_LOAD = 5
PROG_TYPES = {"socket_filter": 1, "kprobe": 2, "tracepoint": 5, "xdp": 6}
LOG_SIZE = 16 * 1024 * 1024

libc = ctypes.CDLL(None, use_errno=True)
libc.syscall.restype = ctypes.c_long


def bpf(cmd, attr):
    buf = ctypes.create_string_buffer(bytes(attr), len(attr))
    ret = libc.syscall(ctypes.c_long(NR_BPF), ctypes.c_long(cmd), buf, ctypes.c_long(len(attr)))
    return ret, (ctypes.get_errno() if ret < 0 else 0)


def create_map(m):
    attr = bytearray(128)
    struct.pack_into("<IIIII", attr, 0, m["type"], m["keySize"], m["valueSize"], m["maxEntries"], m.get("flags", 0))
    name = "".join(ch for ch in str(m.get("name", "")) if ch.isalnum() or ch in "_.")[:15].encode()
    attr[28:28 + len(name)] = name
    fd, err = bpf(BPF_MAP_CREATE, attr)
    if fd < 0:
        raise OSError(err, "BPF_MAP_CREATE %s: %s" % (m.get("name"), os.strerror(err)))
    return fd


def load(insns, prog_type, gpl, log_level):
    code = ctypes.create_string_buffer(insns, len(insns))
    lic = ctypes.create_string_buffer(b"GPL" if gpl else b"Proprietary")
    log = ctypes.create_string_buffer(LOG_SIZE if log_level else 1)
    attr = bytearray(128)
    struct.pack_into("<IIQQIIQII", attr, 0, prog_type, len(insns) // 8, ctypes.addressof(code), ctypes.addressof(lic),
                     log_level, LOG_SIZE if log_level else 0, ctypes.addressof(log) if log_level else 0, 0, 0)
    attr[48:55] = b"kestrel"
    fd, err = bpf(BPF_PROG_LOAD, attr)
    text = log.value.decode("utf-8", "replace") if log_level else ""
    if fd >= 0:
        os.close(fd)
    return fd >= 0, err, text


def main():
    args = sys.argv[1:]
    opts = {"--prog-type": "tracepoint", "--gpl": "1"}
    while args:
        k = args.pop(0)
        if k not in opts or not args:
            print(json.dumps({"available": False, "reason": "bad arguments"}))
            return 2
        opts[k] = args.pop(0)
    if opts["--prog-type"] not in PROG_TYPES:
        print(json.dumps({"available": False, "reason": "unknown program type " + opts["--prog-type"]}))
        return 2
    req = json.loads(sys.stdin.read())
    insns = bytearray(bytes.fromhex(req["insns"]))
    if os.uname().machine != "x86_64":
        print(json.dumps({"available": False, "reason": "kernel oracle supports x86-64 only"}))
        return 0
    # Probe: a 2-insn socket filter tells whether bpf() is usable at all.
    ok, err, _ = load(bytes.fromhex("b700000000000000" + "9500000000000000"), 1, True, 0)
    if not ok:
        print(json.dumps({"available": False, "reason": "bpf() unavailable: " + os.strerror(err)}))
        return 0
    fds = []
    try:
        for m in req.get("maps", []):
            fds.append(create_map(m))
        for i in range(0, len(insns) // 8):
            o = i * 8
            if insns[o] == 0x18:
                src = insns[o + 1] >> 4
                if src in (1, 2, 5, 6):
                    k = struct.unpack_from("<i", insns, o + 4)[0]
                    if 0 <= k < len(fds):
                        insns[o + 1] = (insns[o + 1] & 0x0F) | ((1 if src in (1, 5) else 2) << 4)
                        struct.pack_into("<i", insns, o + 4, fds[k])
        pt = PROG_TYPES[opts["--prog-type"]]
        gpl = opts["--gpl"] != "0"
        ok, err, text = load(bytes(insns), pt, gpl, 1)
        if not ok and err == 28:  # ENOSPC: log overflow, the verdict is unknown; load again without a log
            ok, err, _ = load(bytes(insns), pt, gpl, 0)
            text += "\n(log truncated)"
        print(json.dumps({"available": True, "ok": ok, "errno": err, "log": text}))
        return 0
    except OSError as e:
        print(json.dumps({"available": False, "reason": str(e)}))
        return 0
    finally:
        for fd in fds:
            os.close(fd)


if __name__ == "__main__":
    sys.exit(main())
