#!/usr/bin/env python3
"""Ask the running Linux kernel's verifier about a program (the oracle of Kestrel's verifier tests).

usage: kernel-verify.py --prog-type tracepoint|socket_filter|kprobe|xdp [--gpl 0|1] < request.json
request: {"insns": "<hex of the raw 8-byte slots>", "maps": [{"name","type","keySize","valueSize","maxEntries","flags"}]}
         or a list of such requests, each with optional "progType" and "gpl" (answer: a list)
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
BPF_BTF_LOAD = 18
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


def subprog_starts(insns):
    """Entry points of local functions and bpf_loop callbacks (call src 1, lddw src 4)."""
    starts = {0}
    n = len(insns) // 8
    for i in range(n):
        o = i * 8
        op, src = insns[o], insns[o + 1] >> 4
        imm = struct.unpack_from("<i", insns, o + 4)[0]
        if (op == 0x85 and src == 1) or (op == 0x18 and src == 4):
            starts.add(i + 1 + imm)
    return sorted(s for s in starts if 0 <= s < n)


def load_btf(n_funcs):
    """Minimal BTF: a 64-bit int, a prototype per kind of function, one FUNC per subprogram.
    Linux wants func_info (hence BTF) as soon as a program takes a function's address
    (bpf_loop callbacks); the compiler emits raw bytecode, so the oracle describes it here."""
    strings = b"\0long\0ctx\0idx\0" + b"".join(b"f%d\0" % k for k in range(n_funcs))
    off_long, off_ctx, off_idx = 1, 6, 10
    types = b""
    types += struct.pack("<III", off_long, 1 << 24, 8) + struct.pack("<I", (1 << 24) | 64)  # 1: INT long
    types += struct.pack("<III", 0, (13 << 24) | 1, 1) + struct.pack("<II", off_ctx, 1)     # 2: proto (ctx)
    types += struct.pack("<III", 0, (13 << 24) | 2, 1) + struct.pack("<IIII", off_idx, 1, off_ctx, 1)  # 3: proto (idx, ctx)
    name_off = 14
    for k in range(n_funcs):
        types += struct.pack("<III", name_off, 12 << 24, 2 if k == 0 else 3)  # FUNC, static
        name_off += len(b"f%d\0" % k)
    hdr = struct.pack("<HBBIIIII", 0xEB9F, 1, 0, 24, 0, len(types), len(types), len(strings))
    blob = hdr + types + strings
    buf = ctypes.create_string_buffer(blob, len(blob))
    log = ctypes.create_string_buffer(65536)
    attr = bytearray(128)
    struct.pack_into("<QQIII", attr, 0, ctypes.addressof(buf), ctypes.addressof(log), len(blob), 65536, 1)
    fd, err = bpf(BPF_BTF_LOAD, attr)
    if fd < 0:
        raise OSError(err, "BPF_BTF_LOAD: %s: %s" % (os.strerror(err), log.value.decode("utf-8", "replace")))
    return fd


def load(insns, prog_type, gpl, log_level):
    code = ctypes.create_string_buffer(insns, len(insns))
    lic = ctypes.create_string_buffer(b"GPL" if gpl else b"Proprietary")
    log = ctypes.create_string_buffer(LOG_SIZE if log_level else 1)
    attr = bytearray(128)
    struct.pack_into("<IIQQIIQII", attr, 0, prog_type, len(insns) // 8, ctypes.addressof(code), ctypes.addressof(lic),
                     log_level, LOG_SIZE if log_level else 0, ctypes.addressof(log) if log_level else 0, 0, 0)
    attr[48:55] = b"kestrel"
    starts = subprog_starts(insns)
    btf_fd = -1
    if len(starts) > 1:
        btf_fd = load_btf(len(starts))
        finfo = b"".join(struct.pack("<II", s, 4 + k) for k, s in enumerate(starts))
        finfo_buf = ctypes.create_string_buffer(finfo, len(finfo))
        struct.pack_into("<IIQI", attr, 72, btf_fd, 8, ctypes.addressof(finfo_buf), len(starts))
    fd, err = bpf(BPF_PROG_LOAD, attr)
    text = log.value.decode("utf-8", "replace") if log_level else ""
    if fd >= 0:
        os.close(fd)
    if btf_fd >= 0:
        os.close(btf_fd)
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
    if os.uname().machine != "x86_64":
        print(json.dumps({"available": False, "reason": "kernel oracle supports x86-64 only"}))
        return 0
    # Probe: a 2-insn socket filter tells whether bpf() is usable at all.
    ok, err, _ = load(bytes.fromhex("b700000000000000" + "9500000000000000"), 1, True, 0)
    if not ok:
        print(json.dumps({"available": False, "reason": "bpf() unavailable: " + os.strerror(err)}))
        return 0
    if isinstance(req, list):
        out = [verify_one(r, r.get("progType", opts["--prog-type"]), r.get("gpl", opts["--gpl"] != "0")) for r in req]
        print(json.dumps(out))
        return 0
    print(json.dumps(verify_one(req, opts["--prog-type"], opts["--gpl"] != "0")))
    return 0


def verify_one(req, prog_type, gpl):
    if prog_type not in PROG_TYPES:
        return {"available": False, "reason": "unknown program type %s" % prog_type}
    insns = bytearray(bytes.fromhex(req["insns"]))
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
        pt = PROG_TYPES[prog_type]
        ok, err, text = load(bytes(insns), pt, gpl, 1)
        if not ok and err == 28:  # ENOSPC: log overflow, the verdict is unknown; load again without a log
            ok, err, _ = load(bytes(insns), pt, gpl, 0)
            text += "\n(log truncated)"
        return {"available": True, "ok": ok, "errno": err, "log": text}
    except OSError as e:
        return {"available": False, "reason": str(e)}
    finally:
        for fd in fds:
            os.close(fd)

if __name__ == "__main__":
    sys.exit(main())
