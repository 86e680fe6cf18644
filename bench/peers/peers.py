#!/usr/bin/env python3
"""Times the attention shapes of tessera-bench with the usual libraries on a
GPU machine, and writes tessera-bench's JSON schema (tessera-bench-attention/1)
so that merge.py can put everything side by side:

  torch-flash   torch.nn.functional.scaled_dot_product_attention, FlashAttention backend
  torch-cudnn   the same, cuDNN backend
  jax-mgpu      jax.experimental.pallas.ops.gpu.attention_mgpu (Mosaic GPU, FA3-style,
                Hopper only), where its shape rules allow

Each is checked against a float64 reference on sampled rows of the first and
last heads and timed like tessera-bench: CUDA events around each call after a
warm-up, the L2 cache flushed before each run, the median of --reps runs
(JAX: host wall clock around each call, as its calls run on their own stream).
A backend that is missing or refuses a shape is reported and skipped, never a
crash. Needs only the standard library, plus torch and jax where present.

  python3 bench/peers/peers.py --like bench.json --json peers.json
  python3 bench/peers/peers.py --d 64,128 --seqlen 1024,4096 --json peers.json
"""
import argparse
import datetime
import json
import math
import os
import statistics
import sys
import time
import traceback

# JAX must not take 75% of the GPU's memory at import: torch runs first.
os.environ.setdefault("XLA_PYTHON_CLIENT_PREALLOCATE", "false")

L2_FLUSH_BYTES = 256 << 20
SCHEMA = "tessera-bench-attention/1"


def log(*args):
    print(*args, flush=True)


def first_line(e):
    text = f"{type(e).__name__}: {e}".strip()
    return text.splitlines()[0][:200] if text else type(e).__name__


# ------------------------------------------------------------------ shapes

def default_configs(args):
    """FlashAttention's shapes, as tessera-bench makes them on a GPU."""
    configs = []
    for dt in args.dtype.split(","):
        for causal in {"no": [False], "yes": [True], "both": [False, True]}[args.causal]:
            for d in [int(x) for x in args.d.split(",")]:
                for s in [int(x) for x in args.seqlen.split(",")]:
                    h = args.heads or max(1, 2048 // d)
                    configs.append(dict(dtype=dt, B=args.batch or max(1, 16384 // s), Hq=h,
                                        Hkv=args.kv_heads or h, Sq=s, Sk=s, D=d, causal=causal))
    return configs


def configs_like(path):
    """The configurations of a tessera-bench JSON file, in its order."""
    with open(path) as f:
        data = json.load(f)
    seen, configs = set(), []
    for r in data.get("results", []):
        key = tuple(r[k] for k in ("dtype", "B", "Hq", "Hkv", "Sq", "Sk", "D", "causal"))
        if key not in seen:
            seen.add(key)
            configs.append(dict(zip(("dtype", "B", "Hq", "Hkv", "Sq", "Sk", "D", "causal"), key)))
    return configs


def flops(c):
    f = 4.0 * c["B"] * c["Hq"] * c["Sq"] * c["Sk"] * c["D"]
    return f / 2 if c["causal"] and c["Sq"] == c["Sk"] else f


def stats(times):
    times = sorted(times)
    q = statistics.quantiles(times, n=4, method="inclusive") if len(times) > 1 else [times[0]] * 3
    return dict(ms_median=statistics.median(times), ms_min=times[0], ms_max=times[-1], ms_q1=q[0], ms_q3=q[2])


# ------------------------------------------------------------------- torch

class Torch:
    def __init__(self):
        import torch  # noqa: F401 (import errors are reported by the caller)
        import torch.nn.functional as F
        from torch.nn.attention import SDPBackend, sdpa_kernel
        self.torch, self.F, self.sdpa_kernel = torch, F, sdpa_kernel
        if not torch.cuda.is_available():
            raise RuntimeError("torch sees no GPU")
        self.backends = {"torch-flash": SDPBackend.FLASH_ATTENTION, "torch-cudnn": SDPBackend.CUDNN_ATTENTION}
        self.flush_buf = torch.empty(L2_FLUSH_BYTES, dtype=torch.int8, device="cuda")
        self.name = torch.cuda.get_device_name()

    def inputs(self, c, seed):
        torch = self.torch
        dt = {"f16": torch.float16, "bf16": torch.bfloat16}[c["dtype"]]
        g = torch.Generator(device="cuda").manual_seed(seed)
        q = torch.randn(c["B"], c["Hq"], c["Sq"], c["D"], device="cuda", dtype=dt, generator=g)
        k = torch.randn(c["B"], c["Hkv"], c["Sk"], c["D"], device="cuda", dtype=dt, generator=g)
        v = torch.randn(c["B"], c["Hkv"], c["Sk"], c["D"], device="cuda", dtype=dt, generator=g)
        return q, k, v

    def call(self, impl, c, q, k, v):
        """The function to time for one backend and configuration."""
        F = self.F
        kw = dict(scale=1.0 / math.sqrt(c["D"]))
        if c["Hq"] != c["Hkv"]:
            kw["enable_gqa"] = True
        if c["causal"] and c["Sq"] == c["Sk"]:
            kw["is_causal"] = True
        elif c["causal"]:
            # FlashAttention's (and Tessera's) mask is aligned bottom-right.
            from torch.nn.attention.bias import causal_lower_right
            kw["attn_mask"] = causal_lower_right(c["Sq"], c["Sk"])
        backend = self.backends[impl]

        def fn():
            with self.sdpa_kernel(backend):
                return F.scaled_dot_product_attention(q, k, v, **kw)
        return fn

    def time(self, fn, reps, warmup):
        torch = self.torch
        for _ in range(warmup):
            fn()
        torch.cuda.synchronize()
        start = [torch.cuda.Event(enable_timing=True) for _ in range(reps)]
        end = [torch.cuda.Event(enable_timing=True) for _ in range(reps)]
        for i in range(reps):
            self.flush_buf.zero_()
            start[i].record()
            fn()
            end[i].record()
        torch.cuda.synchronize()
        return [s.elapsed_time(e) for s, e in zip(start, end)]


def reference_rows(torch, c, q, k, v, rows):
    """float64 attention for (batch, head, row) triples: [n, D]."""
    out = []
    group = c["Hq"] // c["Hkv"]
    scale = 1.0 / math.sqrt(c["D"])
    for b, h, r in rows:
        s = (q[b, h, r].double() @ k[b, h // group].double().T) * scale
        if c["causal"]:
            s[torch.arange(c["Sk"], device=s.device) > r + c["Sk"] - c["Sq"]] = -math.inf
        if torch.isinf(s).all():
            out.append(torch.zeros(c["D"], dtype=torch.float64, device=s.device))
            continue
        out.append(torch.softmax(s, dim=-1) @ v[b, h // group].double())
    return torch.stack(out)


def sample_rows(c, n=32):
    rows = []
    for b, h in ((0, 0), (c["B"] - 1, c["Hq"] - 1)):
        step = max(1, c["Sq"] // (n // 2))
        rows += [(b, h, r) for r in range(0, c["Sq"], step)][: n // 2] + [(b, h, c["Sq"] - 1)]
    return rows


# --------------------------------------------------------------------- JAX

class Jax:
    def __init__(self):
        import jax
        import jax.numpy as jnp
        from jax.experimental.pallas.ops.gpu import attention_mgpu
        self.jax, self.jnp, self.mgpu = jax, jnp, attention_mgpu
        if not any(d.platform == "gpu" for d in jax.devices()):
            raise RuntimeError("JAX sees no GPU")

    def call(self, c, q, k, v):
        """attention_mgpu on BSHD tensors; q pre-scaled (it applies no scale).
        Raises what the kernel refuses."""
        if c["causal"] and c["Sq"] != c["Sk"]:
            raise NotImplementedError("attention_mgpu's causal mask is aligned top-left; Sq != Sk is not comparable")
        jnp = self.jnp
        dt = {"f16": jnp.float16, "bf16": jnp.bfloat16}[c["dtype"]]
        # torch [B, H, S, D] -> numpy via float32 -> JAX [B, S, H, D]
        def to_jax(t, scale=1.0):
            a = (t.float() * scale).transpose(1, 2).contiguous().cpu().numpy()
            return jnp.asarray(a, dtype=dt)
        qj, kj, vj = to_jax(q, 1.0 / math.sqrt(c["D"])), to_jax(k), to_jax(v)
        block_kv = 128 if c["D"] <= 128 else 64
        config = self.mgpu.TuningConfig(block_q=64, block_kv=block_kv, max_concurrent_steps=2, causal=c["causal"])

        def fn():
            return self.mgpu.attention(qj, kj, vj, config)
        return fn

    def time(self, fn, reps, warmup):
        for _ in range(warmup):
            fn().block_until_ready()
        times = []
        for _ in range(reps):
            t0 = time.perf_counter()
            fn().block_until_ready()
            times.append((time.perf_counter() - t0) * 1e3)
        return times


# -------------------------------------------------------------------- main

def result(impl, c, **kw):
    r = dict(impl=impl, **c, flops=flops(c), ran=False, status="ok")
    r.update(kw)
    return r


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--like", help="take the configurations of this tessera-bench JSON file")
    ap.add_argument("--dtype", default="f16,bf16")
    ap.add_argument("--d", default="64,128,256")
    ap.add_argument("--seqlen", default="512,1024,2048,4096,8192,16384")
    ap.add_argument("--batch", type=int, default=0)
    ap.add_argument("--heads", type=int, default=0)
    ap.add_argument("--kv-heads", type=int, default=0)
    ap.add_argument("--causal", default="both", choices=["yes", "no", "both"])
    ap.add_argument("--reps", type=int, default=20)
    ap.add_argument("--warmup", type=int, default=3)
    ap.add_argument("--backends", default="torch-flash,torch-cudnn,jax-mgpu")
    ap.add_argument("--time-limit", type=float, default=0, help="seconds; later runs are skipped")
    ap.add_argument("--json", required=True)
    args = ap.parse_args()
    start = time.monotonic()
    configs = configs_like(args.like) if args.like else default_configs(args)
    wanted = args.backends.split(",")
    out = dict(schema=SCHEMA, tool="bench/peers/peers.py",
               date=datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
               commit=os.environ.get("TESSERA_COMMIT", "unknown"),
               device=dict(kind="cuda", name="unknown", cpu_times=False,
                           timer="CUDA events around each call, L2 flushed (jax-mgpu: host wall clock)",
                           peak_tflops=None, peak_source=""),
               reps=args.reps, warmup=args.warmup, l2_flush_bytes=L2_FLUSH_BYTES, results=[])
    results = out["results"]

    backends = {}
    try:
        backends["torch"] = Torch()
        out["device"]["name"] = backends["torch"].name
        log(f"backend torch {backends['torch'].torch.__version__} on {backends['torch'].name}")
    except Exception as e:
        log(f"backend torch unavailable: {first_line(e)}")
        backends["torch"] = e
    if "jax-mgpu" in wanted:
        try:
            backends["jax"] = Jax()
            log(f"backend jax {backends['jax'].jax.__version__}")
        except Exception as e:
            log(f"backend jax unavailable: {first_line(e)}")
            backends["jax"] = e

    # Backends outer: the slow compiles of one (JAX) cannot starve the others
    # under --time-limit.
    for impl in wanted:
        for i, c in enumerate(configs):
            which = "jax" if impl == "jax-mgpu" else "torch"
            be = backends.get(which)
            if impl not in ("torch-flash", "torch-cudnn", "jax-mgpu"):
                results.append(result(impl, c, status=f"skipped: unknown backend {impl}"))
                continue
            if isinstance(be, Exception) or be is None:
                results.append(result(impl, c, status=f"skipped: {which} unavailable: {first_line(be)}"))
                continue
            if isinstance(backends["torch"], Exception):
                results.append(result(impl, c, status="skipped: torch (which makes the inputs) unavailable"))
                continue
            if args.time_limit and time.monotonic() - start > args.time_limit:
                results.append(result(impl, c, status="skipped (--time-limit)"))
                continue
            t = backends["torch"]
            try:
                q, k, v = t.inputs(c, seed=1000 + i)
                fn = t.call(impl, c, q, k, v) if which == "torch" else be.call(c, q, k, v)
                o = fn()
                if which == "jax":
                    import numpy as np
                    o = t.torch.from_numpy(np.asarray(o, dtype=np.float32)).cuda().transpose(1, 2)
                rows = sample_rows(c)
                ref = reference_rows(t.torch, c, q, k, v, rows)
                got = t.torch.stack([o[b, h, r].double() for b, h, r in rows])
                err = (got - ref).abs().max().item()
                times = be.time(fn, args.reps, args.warmup)
                st = stats(times)
                results.append(result(impl, c, ran=True, **st, tflops=flops(c) / (st["ms_median"] * 1e-3) / 1e12,
                                      err=err, rows_checked=len(rows), all_rows=False,
                                      **({"timer": "wall"} if which == "jax" else {})))
                log(f"[{i + 1}/{len(configs)}] {impl} {c}: {st['ms_median']:.3f} ms, err {err:.2e}")
                del q, k, v, o, fn
            except Exception as e:
                msg = first_line(e)
                results.append(result(impl, c, status=f"refused: {msg}"))
                log(f"skipped {impl} {c}: {msg}")
                if os.environ.get("PEERS_DEBUG"):
                    traceback.print_exc()
        if not isinstance(backends["torch"], Exception):
            backends["torch"].torch.cuda.empty_cache()
    # In the order of the configurations, as tessera-bench writes them.
    order = {tuple(c.values()): i for i, c in enumerate(configs)}
    results.sort(key=lambda r: (order.get(tuple(r[k] for k in configs[0]), 0) if configs else 0,
                                wanted.index(r["impl"]) if r["impl"] in wanted else 0))

    with open(args.json, "w") as f:
        json.dump(out, f, indent=1)
    ran = sum(r["ran"] for r in results)
    log(f"peers: {ran} of {len(results)} runs done, written to {args.json}")
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except SystemExit:
        raise
    except Exception:
        traceback.print_exc()
        sys.exit(1)
