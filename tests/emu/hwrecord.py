#!/usr/bin/env python3
"""Records the outputs of the emulator's GPU cases on a real GPU: the same as
hwrecord.c (same case list, same inputs, same output files), for a GPU machine
where the C recorder can neither be built nor run. Uses only the standard
library (ctypes opens libcuda.so.1).

    python3 hwrecord.py CASES PTXDIR OUTDIR [NAME...]

The input generators mirror hwcase.h exactly; hwprep.sh --dry-run checks that
both recorders write the same bytes."""
import ctypes
import datetime
import math
import struct
import sys

M64 = (1 << 64) - 1
SIZES = {"u8": 1, "f16": 2, "bf16": 2, "u32": 4, "i32": 4, "f32": 4, "u64": 8, "f64": 8}
# CUtensorMapDataType of each type (hw_map_dtype of hwcase.h)
MAP_DTYPE = {"u8": 0, "u32": 2, "i32": 3, "u64": 4, "f16": 6, "f32": 7, "f64": 8, "bf16": 9}


def parse_list(s):
    return [] if s == "-" else [int(x) for x in s.split(",")]


def parse_map(f):  # map:<P>:<type>:<swizzle>:<dims>:<strides>:<box>:<estrides>
    if len(f) != 8 or f[2] not in MAP_DTYPE or int(f[3]) not in (0, 32, 64, 128):
        raise ValueError(":".join(f))
    dims, strides, box, est = (parse_list(x) for x in f[4:8])
    if not 1 <= len(dims) <= 5 or len(strides) != len(dims) - 1 or len(box) != len(dims) \
            or len(est) != len(dims):
        raise ValueError(":".join(f))
    return {"kind": "m", "buffer": int(f[1]), "type": f[2], "swizzle": int(f[3]), "dims": dims,
            "strides": strides, "box": box, "estrides": est}


def parse_param(tok):
    f = tok.split(":")
    if len(f) < 2:
        raise ValueError(tok)
    if f[0] == "map":
        return parse_map(f)
    if f[0] in ("in", "out"):
        p = {"kind": f[0][0], "type": f[1], "count": int(f[2], 0), "ranged": False,
             "special": False, "tol": 0.0}
        if p["type"] not in SIZES or not 0 < p["count"] <= 1 << 24:
            raise ValueError(tok)
        if p["kind"] == "i":
            p["seed"] = int(f[3], 0)
            if len(f) == 5 and f[4] == "special":
                p["special"] = True
            elif len(f) == 5:
                raise ValueError(tok)
            if len(f) >= 6:
                p["ranged"], p["lo"], p["hi"] = True, float(f[4]), float(f[5])
        elif len(f) >= 4:
            p["tol"] = float(f[3])
        return p
    if f[0] in ("i32", "u32"):
        return {"kind": "s", "bytes": struct.pack("<I", int(f[1], 0) & 0xFFFFFFFF)}
    if f[0] == "f32":
        return {"kind": "s", "bytes": struct.pack("<f", float(f[1]))}
    raise ValueError(tok)


def parse_case(line):
    toks = line.split("#", 1)[0].split()
    if not toks:
        return None
    if len(toks) < 6:
        raise ValueError(line)
    dims = lambda s: [int(x) for x in (s.split(",") + ["1", "1"])[:3]]
    c = {"name": toks[0], "ptx": toks[1], "kernel": toks[2], "grid": dims(toks[3]),
         "block": dims(toks[4]), "smem": int(toks[5], 0),
         "params": [parse_param(t) for t in toks[6:]]}
    for p in c["params"]:  # a map names a buffer of its type that holds what it spans
        if p["kind"] != "m":
            continue
        if not 0 <= p["buffer"] < len(c["params"]):
            raise ValueError(line)
        b = c["params"][p["buffer"]]
        if b["kind"] not in "io" or b["type"] != p["type"]:
            raise ValueError(line)
        es = SIZES[b["type"]]
        last = (p["dims"][0] - 1) * es + sum((d - 1) * s for d, s in zip(p["dims"][1:], p["strides"]))
        if p["dims"][0] < 1 or last + es > b["count"] * es:
            raise ValueError(line)
    return c


def f32(v):
    return struct.unpack("<f", struct.pack("<f", v))[0]


def f16_bits(f):  # hw_f16 of hwcase.h, on the float f
    x = struct.unpack("<I", struct.pack("<f", f))[0]
    sign, ax = (x >> 16) & 0x8000, x & 0x7FFFFFFF
    if ax > 0x7F800000:
        return 0x7FFF
    if ax >= 0x477FF000:
        return sign | 0x7C00
    if ax >= 0x38800000:
        return sign | ((ax + 0xFFF + ((ax >> 13) & 1) - 0x38000000) >> 13)
    m = struct.unpack("<f", struct.pack("<I", ax))[0]
    return sign | int(round(m * 16777216.0))  # round() ties to even, as nearbyintf


# hw_special of hwcase.h: each float type's special values, in the same order
SPECIAL = {
    "f32": (4, [
        0x00000000, 0x80000000, 0x7F800000, 0xFF800000, 0x7FC00000, 0xFFC00000, 0x7F800001,
        0x7FFFFFFF, 0x00000001, 0x80000001, 0x007FFFFF, 0x807FFFFF, 0x00800000, 0x80800000,
        0x7F7FFFFF, 0xFF7FFFFF, 0x3F800000, 0xBF800000, 0x3F000000, 0x3FC00000, 0xC0200000,
        0x4B000000, 0x4B000001, 0x3EFFFFFF, 0x477FE000, 0x477FF000, 0x477FEFFF, 0x33800000,
        0x33000000, 0x33000001, 0x38800000, 0x387FC000, 0x4F000000, 0xCF000000, 0x5F000000,
        0x3F800001, 0x3F7FFFFF, 0x7F000000, 0x0D000000, 0x00400000]),
    "f64": (8, [
        0x0000000000000000, 0x8000000000000000, 0x7FF0000000000000, 0xFFF0000000000000,
        0x7FF8000000000000, 0x7FF0000000000001, 0x0000000000000001, 0x8000000000000001,
        0x000FFFFFFFFFFFFF, 0x0010000000000000, 0x7FEFFFFFFFFFFFFF, 0xFFEFFFFFFFFFFFFF,
        0x3FF0000000000000, 0xBFF0000000000000, 0x3FE0000000000000, 0x47EFFFFFE0000000,
        0x47EFFFFFF0000000, 0x36A0000000000000, 0x3690000000000000, 0x3690000000000001,
        0x3FF0000010000000, 0x3FF0000030000000, 0x43E0000000000000, 0xC3E0000000000000,
        0x41E0000000000000, 0x3FEFFFFFFFFFFFFF, 0x4330000000000001]),
    "f16": (2, [0x0000, 0x8000, 0x7C00, 0xFC00, 0x7E00, 0x7C01, 0x0001, 0x8001, 0x03FF, 0x0400,
                0x7BFF, 0xFBFF, 0x3C00, 0xBC00, 0x3BFF, 0x3C01, 0x0200]),
    "bf16": (2, [0x0000, 0x8000, 0x7F80, 0xFF80, 0x7FC0, 0x7F81, 0x0001, 0x8001, 0x007F,
                 0x0080, 0x7F7F, 0xFF7F, 0x3F80, 0xBF80, 0x3F7F, 0x3F81]),
}


def fill(p):
    s = (p["seed"] * 0x100000001B3 + 12345) & M64

    def rand():
        nonlocal s
        s = (s + 0x9E3779B97F4A7C15) & M64
        z = s
        z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & M64
        z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & M64
        return z ^ (z >> 31)

    es = SIZES[p["type"]]
    out = bytearray()
    for _ in range(p["count"]):
        r = rand()
        if p["special"] and (rand() & 1) and p["type"] in SPECIAL:
            size, vals = SPECIAL[p["type"]]
            out += vals[r % len(vals)].to_bytes(size, "little")
            continue
        if not p["ranged"]:
            out += r.to_bytes(8, "little")[:es]
            continue
        u = (r >> 11) * 2.0 ** -53
        v = p["lo"] + (p["hi"] - p["lo"]) * u
        t = p["type"]
        if t == "f32":
            out += struct.pack("<f", v)
        elif t == "f64":
            out += struct.pack("<d", v)
        elif t == "f16":
            out += struct.pack("<H", f16_bits(f32(v)))
        elif t == "bf16":
            out += struct.pack("<H", struct.unpack("<I", struct.pack("<f", v))[0] >> 16)
        else:
            out += (math.floor(v) & M64).to_bytes(8, "little")[:es]
    return bytes(out)


class Cuda:
    def __init__(self):
        self.lib = ctypes.CDLL("libcuda.so.1")
        self.err = ctypes.c_char_p()

    def call(self, name, *args):
        r = getattr(self.lib, name)(*args)
        if r != 0:
            self.lib.cuGetErrorString(r, ctypes.byref(self.err))
            msg = self.err.value.decode() if self.err.value else "unknown error"
            raise RuntimeError("%s failed: %s (%d)" % (name, msg, r))


def encode_map(cu, p, global_ptr):
    """A 64-aligned 128-byte tensor map of p over the buffer at global_ptr
    (cuTensorMapEncodeTiled: no interleave, L2 promotion 128 B, zero fill)."""
    buf = ctypes.create_string_buffer(128 + 64)
    addr = ctypes.addressof(buf)
    addr += -addr % 64
    n = len(p["dims"])
    u64s, u32s = ctypes.c_uint64 * 5, ctypes.c_uint32 * 5
    swizzle = {0: 0, 32: 1, 64: 2, 128: 3}[p["swizzle"]]
    fn = cu.lib.cuTensorMapEncodeTiled
    fn.argtypes = [ctypes.c_void_p, ctypes.c_int, ctypes.c_uint32, ctypes.c_void_p,
                   ctypes.c_void_p, ctypes.c_void_p, ctypes.c_void_p, ctypes.c_void_p,
                   ctypes.c_int, ctypes.c_int, ctypes.c_int, ctypes.c_int]
    dims, strides = u64s(*p["dims"]), u64s(*p["strides"])
    box, est = u32s(*p["box"]), u32s(*p["estrides"])
    cu.call("cuTensorMapEncodeTiled", ctypes.c_void_p(addr), MAP_DTYPE[p["type"]], n,
            ctypes.c_void_p(global_ptr), dims, strides, box, est, 0, swizzle, 2, 0)
    return buf, addr


def run_case(cu, c, ptxdir, outdir, device):
    with open("%s/%s.ptx" % (ptxdir, c["ptx"]), "rb") as f:
        ptx = f.read() + b"\0"
    mod, fn = ctypes.c_void_p(), ctypes.c_void_p()
    log = ctypes.create_string_buffer(8192)
    opts = (ctypes.c_int * 2)(5, 6)
    vals = (ctypes.c_void_p * 2)(ctypes.cast(log, ctypes.c_void_p).value, 8192)
    r = cu.lib.cuModuleLoadDataEx(ctypes.byref(mod), ptx, 2, opts, vals)
    if r != 0:
        raise RuntimeError("loading %s failed (%d): %s" % (c["ptx"], r, log.value.decode(errors="replace")))
    devs, keep = [], []
    try:
        cu.call("cuModuleGetFunction", ctypes.byref(fn), mod, c["kernel"].encode())
        if c["smem"] > 48 * 1024:
            cu.call("cuFuncSetAttribute", fn, 8, c["smem"])
        args = (ctypes.c_void_p * max(1, len(c["params"])))()
        ptrs = {}
        for i, p in enumerate(c["params"]):
            if p["kind"] == "m":
                continue  # after the buffers
            if p["kind"] == "s":
                buf = ctypes.create_string_buffer(p["bytes"], len(p["bytes"]))
                keep.append(buf)
                args[i] = ctypes.cast(buf, ctypes.c_void_p)
                continue
            n = p["count"] * SIZES[p["type"]]
            d = ctypes.c_uint64()
            cu.call("cuMemAlloc_v2", ctypes.byref(d), ctypes.c_size_t(n))
            devs.append((i, d, n))
            if p["kind"] == "i":
                data = fill(p)
                cu.call("cuMemcpyHtoD_v2", d, data, ctypes.c_size_t(n))
            else:
                cu.call("cuMemsetD8_v2", d, ctypes.c_ubyte(0xCD), ctypes.c_size_t(n))
            keep.append(d)
            ptrs[i] = d.value
            args[i] = ctypes.cast(ctypes.pointer(d), ctypes.c_void_p)
        for i, p in enumerate(c["params"]):
            if p["kind"] == "m":
                buf, addr = encode_map(cu, p, ptrs[p["buffer"]])
                keep.append(buf)
                args[i] = addr
        g, b = c["grid"], c["block"]
        cu.call("cuLaunchKernel", fn, g[0], g[1], g[2], b[0], b[1], b[2], c["smem"], None, args, None)
        cu.call("cuCtxSynchronize")
        date = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
        with open("%s/%s.out" % (outdir, c["name"]), "w") as f:
            f.write("# case %s, recorded on %s, %s\n" % (c["name"], device, date))
            for i, d, n in devs:
                if c["params"][i]["kind"] != "o":
                    continue
                host = ctypes.create_string_buffer(n)
                cu.call("cuMemcpyDtoH_v2", host, d, ctypes.c_size_t(n))
                f.write("out %d %d\n" % (i, n))
                data = host.raw
                for k in range(0, n, 32):
                    f.write(data[k:k + 32].hex() + "\n")
    finally:
        for _, d, _ in devs:
            cu.lib.cuMemFree_v2(d)
        cu.lib.cuModuleUnload(mod)


def main(argv):
    if len(argv) < 4:
        print("usage: hwrecord.py CASES PTXDIR OUTDIR [NAME...]", file=sys.stderr)
        return 2
    try:
        cu = Cuda()
    except OSError as e:
        print("hwrecord.py: cannot open libcuda.so.1 (%s): no NVIDIA driver here" % e, file=sys.stderr)
        return 1
    dev, ctx = ctypes.c_int(), ctypes.c_void_p()
    name, ver = ctypes.create_string_buffer(256), ctypes.c_int()
    try:
        cu.call("cuInit", 0)
        cu.call("cuDeviceGet", ctypes.byref(dev), 0)
        cu.call("cuCtxCreate_v2", ctypes.byref(ctx), 0, dev)
    except RuntimeError as e:
        print("hwrecord.py: no usable CUDA device: %s" % e, file=sys.stderr)
        return 1
    cu.lib.cuDeviceGetName(name, 256, dev)
    cu.lib.cuDriverGetVersion(ctypes.byref(ver))
    device = "%s (driver %d.%d)" % (name.value.decode(), ver.value // 1000, ver.value % 1000 // 10)
    failed = done = 0
    with open(argv[1]) as f:
        for lineno, line in enumerate(f, 1):
            try:
                c = parse_case(line)
            except (ValueError, IndexError):
                print("hwrecord.py: %s:%d: malformed case" % (argv[1], lineno), file=sys.stderr)
                failed += 1
                continue
            if c is None or (len(argv) > 4 and c["name"] not in argv[4:]):
                continue
            done += 1
            try:
                run_case(cu, c, argv[2], argv[3], device)
                print("hwrecord.py: %s ok" % c["name"])
            except (OSError, RuntimeError) as e:
                print("hwrecord.py: case %s: %s" % (c["name"], e), file=sys.stderr)
                failed += 1
    print("hwrecord.py: %d cases on %s, %d failed" % (done, device, failed))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
