#!/usr/bin/env python3
"""Times the attention shapes of tessera-bench with the usual libraries on a
GPU machine, and writes tessera-bench's JSON schema (tessera-bench-attention/1)
so that merge.py can put everything side by side:

  torch-flash   torch.nn.functional.scaled_dot_product_attention, FlashAttention backend
  torch-cudnn   the same, cuDNN backend
  torch-flex    torch.nn.attention.flex_attention (compiled): the features below as a
                score_mod and a block mask whose empty blocks it skips
  jax-mgpu      jax.experimental.pallas.ops.gpu.attention_mgpu (Mosaic GPU, FA3-style,
                Hopper only), where its shape rules allow
  jax-cudnn     jax.nn.dot_product_attention(implementation="cudnn"), with its
                local_window_size for --window

The features of tessera-bench (--window L,R, --softcap X, --alibi, --varlen
LENS; the same meaning) go to the backends that have them; the others
report them refused. A packed batch (--varlen) is one [1, H, total, D]
tensor with a document mask, as flex_attention takes it.

Each is checked against a float64 reference on sampled rows of the first and
last heads and timed like tessera-bench: CUDA events around each call after a
warm-up, the L2 cache flushed before each run, the median of --reps runs
(JAX: host wall clock around each call, as its calls run on their own stream).
A backend that is missing or refuses a shape is reported and skipped, never a
crash. Needs only the standard library, plus torch and jax where present.

--pass bwd (or a --like file's "direction": "bwd" results) times the backward
pass as tessera-bench does (FLOPs 2.5x the forward's): torch's through
torch.autograd.grad of the backend's output, retained graph, the forward run
once before; JAX's through the jitted pullback of jax.vjp. Each is checked
against float64 autograd gradients of the first batch element's first
key/value head and its query heads, where that problem is small enough. The
backward takes no features (neither does tsr_attention_backward).

  python3 bench/peers/peers.py --like bench.json --json peers.json
  python3 bench/peers/peers.py --like bench.json --like bench-bwd.json --json peers.json
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
    directions = {"fwd": ["fwd"], "bwd": ["bwd"], "both": ["fwd", "bwd"]}[args.pass_]
    for direction in directions:
        configs += [dict(c, direction=direction) for c in dense_configs(args)]
    return configs


def dense_configs(args):
    configs = []
    for dt in args.dtype.split(","):
        for causal in {"no": [False], "yes": [True], "both": [False, True]}[args.causal]:
            for d in [int(x) for x in args.d.split(",")]:
                for s in [int(x) for x in args.seqlen.split(",")]:
                    h = args.heads or max(1, 2048 // d)
                    configs.append(dict(dtype=dt, B=args.batch or max(1, 16384 // s), Hq=h,
                                        Hkv=args.kv_heads or h, Sq=s, Sk=s, D=d, causal=causal))
    return configs


CONFIG_KEYS = ("dtype", "B", "Hq", "Hkv", "Sq", "Sk", "D", "causal", "direction")


def configs_like(paths):
    """The configurations of tessera-bench JSON files, in their order (a
    result without "direction" is a forward one)."""
    seen, configs = set(), []
    for path in paths:
        with open(path) as f:
            data = json.load(f)
        for r in data.get("results", []):
            key = tuple(r.get(k, "fwd") if k == "direction" else r[k] for k in CONFIG_KEYS)
            if key not in seen:
                seen.add(key)
                configs.append(dict(zip(CONFIG_KEYS, key)))
    return configs


# The features of the run (set by main from the options): window (L, R) or
# None, softcap (0: off), alibi, varlen (a list of lengths or None).
FEATURES = dict(window=None, softcap=0.0, alibi=False, varlen=None)


def features_on():
    f = FEATURES
    return f["window"] is not None or f["softcap"] > 0 or f["alibi"] or f["varlen"] is not None


def features_text():
    f, parts = FEATURES, []
    if f["window"] is not None:
        parts.append(f"window {f['window'][0]},{f['window'][1]}")
    if f["softcap"] > 0:
        parts.append(f"softcap {f['softcap']:g}")
    if f["alibi"]:
        parts.append("ALiBi")
    if f["varlen"] is not None:
        parts.append(f"varlen {len(f['varlen'])} sequences")
    return ", ".join(parts) or "none"


def alibi_slope(h, H):
    return 2.0 ** (-8.0 * (h + 1) / H)


def sequences(c):
    """(first row, length) of each sequence: the packed batch's, or one per
    batch element of a dense one (rows counted within the element)."""
    if FEATURES["varlen"] is None:
        return [(0, c["Sq"])] * c["B"]
    out, t = [], 0
    for n in FEATURES["varlen"]:
        out.append((t, n))
        t += n
    return out


def visible(c, r, sq, sk):
    """The keys [lo, hi) row r of a sequence of sq queries and sk keys sees
    (tessera-bench's rule: FlashAttention's window, bottom-right)."""
    diag, lo, hi = r + sk - sq, 0, sk
    w = FEATURES["window"]
    if w is not None and w[0] >= 0:
        lo = diag - w[0]
    if c["causal"]:
        hi = diag + 1
    elif w is not None and w[1] >= 0:
        hi = diag + w[1] + 1
    return max(lo, 0), min(hi, sk)


def flops(c):
    """FLOPs of the pass: the backward's are 2.5x the forward's (tessera-bench's rule)."""
    return forward_flops(c) * (2.5 if c.get("direction") == "bwd" else 1.0)


def forward_flops(c):
    if FEATURES["window"] is not None or FEATURES["varlen"] is not None:
        pairs = sum(max(0, hi - lo) for _, n in sequences(c)
                    for lo, hi in (visible(c, r, n, n if FEATURES["varlen"] is not None else c["Sk"])
                                   for r in range(n)))
        return 4.0 * c["Hq"] * c["D"] * pairs
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
        self.flex = None  # compiled on first use
        self.flush_buf = torch.empty(L2_FLUSH_BYTES, dtype=torch.int8, device="cuda")
        self.name = torch.cuda.get_device_name()

    def inputs(self, c, seed):
        torch = self.torch
        dt = {"f16": torch.float16, "bf16": torch.bfloat16}[c["dtype"]]
        g = torch.Generator(device="cuda").manual_seed(seed)
        b, sq, sk = c["B"], c["Sq"], c["Sk"]
        if FEATURES["varlen"] is not None:  # one packed [1, H, total, D] batch
            b, sq = 1, sum(FEATURES["varlen"])
            sk = sq
        q = torch.randn(b, c["Hq"], sq, c["D"], device="cuda", dtype=dt, generator=g)
        k = torch.randn(b, c["Hkv"], sk, c["D"], device="cuda", dtype=dt, generator=g)
        v = torch.randn(b, c["Hkv"], sk, c["D"], device="cuda", dtype=dt, generator=g)
        return q, k, v

    def call(self, impl, c, q, k, v):
        """The function to time for one backend and configuration."""
        if impl == "torch-flex":
            return self.call_flex(c, q, k, v)
        if features_on():
            raise NotImplementedError(f"SDPA has no {features_text()}")
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

    def backward(self, c, fwd, q, k, v, seed):
        """The backward pass of the forward fwd (a function of q, k, v, run
        once here): returns the function to time, which gives (dq, dk, dv)
        of a fixed random dO."""
        torch = self.torch
        if features_on():
            raise NotImplementedError("the backward takes no features (nor does tsr_attention_backward)")
        for t in (q, k, v):
            t.requires_grad_(True)
        o = fwd()
        g = torch.Generator(device="cuda").manual_seed(seed + 1)
        do = torch.randn(o.shape, device="cuda", dtype=o.dtype, generator=g)

        def fn():
            return torch.autograd.grad(o, (q, k, v), do, retain_graph=True)
        fn.dout = do
        return fn

    def call_flex(self, c, q, k, v):
        """flex_attention with the run's features: soft-capping and ALiBi as
        a score_mod, the causal mask, the window and the packing as a block
        mask (blocks it leaves empty are not computed)."""
        torch = self.torch
        from torch.nn.attention.flex_attention import create_block_mask, flex_attention
        if self.flex is None:
            self.flex = torch.compile(flex_attention)
        f = FEATURES
        seqs = sequences(c)
        packed = f["varlen"] is not None
        total_q = q.shape[2]
        # Per row: its sequence, its row within it, and the sequence's start and lengths.
        seq_of = torch.zeros(max(total_q, 1), dtype=torch.int32, device="cuda")
        start = torch.zeros(len(seqs) + 1, dtype=torch.int32, device="cuda")
        if packed:
            for i, (t, n) in enumerate(seqs):
                seq_of[t:t + n] = i
                start[i] = t
            start[len(seqs)] = total_q
        slopes = torch.tensor([alibi_slope(h, c["Hq"]) for h in range(c["Hq"])], device="cuda",
                              dtype=torch.float32)
        causal, window, cap = c["causal"], f["window"], f["softcap"]
        Sq, Sk = c["Sq"], c["Sk"]

        def coords(q_idx, kv_idx):
            """(row in its sequence, key in its sequence, diag offset, same sequence)"""
            if not packed:
                return q_idx, kv_idx, Sk - Sq, True
            s = seq_of[q_idx]
            return q_idx - start[s], kv_idx - start[s], 0, seq_of[kv_idx] == s

        def mask_mod(b, h, q_idx, kv_idx):
            r, key, diag, same = coords(q_idx, kv_idx)
            rel = key - r - diag
            keep = same & (rel <= 0) if causal else same & (rel == rel)
            if window is not None and window[0] >= 0:
                keep = keep & (rel >= -window[0])
            if window is not None and window[1] >= 0 and not causal:
                keep = keep & (rel <= window[1])
            return keep

        def score_mod(score, b, h, q_idx, kv_idx):
            if cap > 0:
                score = cap * torch.tanh(score / cap)
            if f["alibi"]:
                r, key, diag, _ = coords(q_idx, kv_idx)
                score = score - slopes[h] * (r + diag - key).abs()
            return score

        block_mask = create_block_mask(mask_mod, None, None, q.shape[2], k.shape[2], device="cuda")
        kw = dict(scale=1.0 / math.sqrt(c["D"]), block_mask=block_mask,
                  score_mod=score_mod if (cap > 0 or f["alibi"]) else None)
        if c["Hq"] != c["Hkv"]:
            kw["enable_gqa"] = True

        def fn():
            return self.flex(q, k, v, **kw)
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
    """float64 attention, with the run's features, for (batch, head, row)
    triples (a packed batch: batch 0, row of the packed tensor): [n, D]."""
    out = []
    group = c["Hq"] // c["Hkv"]
    scale = 1.0 / math.sqrt(c["D"])
    packed = FEATURES["varlen"] is not None
    for b, h, t in rows:
        first, n = next(((s0, n) for s0, n in sequences(c) if s0 <= t < s0 + n), (0, 0)) if packed else (0, c["Sq"])
        r, sk = (t - first, n) if packed else (t, c["Sk"])
        keys = k[b, h // group, first:first + sk].double() if packed else k[b, h // group].double()
        vals = v[b, h // group, first:first + sk].double() if packed else v[b, h // group].double()
        s = (q[b, h, t].double() @ keys.T) * scale
        if FEATURES["softcap"] > 0:
            s = FEATURES["softcap"] * torch.tanh(s / FEATURES["softcap"])
        cols = torch.arange(sk, device=s.device)
        if FEATURES["alibi"]:
            s = s - alibi_slope(h, c["Hq"]) * (r + sk - n - cols if packed else r + c["Sk"] - c["Sq"] - cols).abs()
        lo, hi = visible(c, r, n if packed else c["Sq"], sk)
        s[(cols < lo) | (cols >= hi)] = -math.inf
        if torch.isinf(s).all():
            out.append(torch.zeros(c["D"], dtype=torch.float64, device=s.device))
            continue
        out.append(torch.softmax(s, dim=-1) @ vals)
    return torch.stack(out)


# The float64 check of a backward covers one key/value head of batch element
# 0 and its query heads when group * Sq * Sk is at most this.
BWD_CHECK_ELEMENTS = 1 << 26


def reference_grads(torch, c, q, k, v, do):
    """float64 autograd gradients (dq of the group's query heads, dk and dv
    of key/value head 0) of batch element 0, or None when too large."""
    group = c["Hq"] // c["Hkv"]
    if group * c["Sq"] * c["Sk"] > BWD_CHECK_ELEMENTS:
        return None
    qd = q[0, :group].detach().double().requires_grad_(True)
    kd = k[0, 0].detach().double().requires_grad_(True)
    vd = v[0, 0].detach().double().requires_grad_(True)
    s = (qd @ kd.T) / math.sqrt(c["D"])                               # [group, Sq, Sk]
    if c["causal"]:
        rows = torch.arange(c["Sq"], device=s.device)[:, None]
        cols = torch.arange(c["Sk"], device=s.device)[None, :]
        s = s.masked_fill(cols > rows + c["Sk"] - c["Sq"], -math.inf)
    p = torch.nan_to_num(torch.softmax(s, dim=-1), nan=0.0)           # rows that see no key: 0
    o = p @ vd
    return torch.autograd.grad(o, (qd, kd, vd), do[0, :group].double())


def grads_error(c, got, ref):
    """max |error| of dq, dk, dv against reference_grads' part."""
    group = c["Hq"] // c["Hkv"]
    parts = (got[0][0, :group], got[1][0, 0], got[2][0, 0])
    return max((g.double() - r).abs().max().item() for g, r in zip(parts, ref))


def sample_rows(c, n=32):
    rows = []
    if FEATURES["varlen"] is not None:
        total = sum(FEATURES["varlen"])
        step = max(1, total // (n // 2))
        for h in (0, c["Hq"] - 1):
            rows += [(0, h, t) for t in range(0, total, step)][: n // 2] + ([(0, h, total - 1)] if total else [])
        return rows
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

    @staticmethod
    def to_jax(jnp, c, t, scale=1.0):
        """torch [B, H, S, D] -> numpy via float32 -> JAX [B, S, H, D]"""
        dt = {"f16": jnp.float16, "bf16": jnp.bfloat16}[c["dtype"]]
        a = (t.float() * scale).transpose(1, 2).contiguous().cpu().numpy()
        return jnp.asarray(a, dtype=dt)

    def call_cudnn(self, c, q, k, v):
        """jax.nn.dot_product_attention on cuDNN: the window as its
        local_window_size; no soft-capping, ALiBi slopes or packing."""
        f = FEATURES
        if f["softcap"] > 0 or f["alibi"] or f["varlen"] is not None:
            raise NotImplementedError("jax.nn.dot_product_attention has no soft-capping, ALiBi slopes or packing")
        if c["causal"] and c["Sq"] != c["Sk"]:
            raise NotImplementedError("its causal mask is aligned top-left; Sq != Sk is not comparable")
        jnp = self.jnp
        qj, kj, vj = (self.to_jax(jnp, c, t) for t in (q, k, v))
        kw = dict(scale=1.0 / math.sqrt(c["D"]), is_causal=c["causal"], implementation="cudnn")
        if f["window"] is not None:
            left, right = f["window"]
            kw["local_window_size"] = (left if left >= 0 else c["Sk"], 0 if c["causal"] else
                                       (right if right >= 0 else c["Sk"]))
        fn = self.jax.jit(lambda a, b, d: self.jax.nn.dot_product_attention(a, b, d, **kw))
        call = lambda: fn(qj, kj, vj)  # noqa: E731
        call.jax_fn, call.jax_args = fn, (qj, kj, vj)
        return call

    def call(self, c, q, k, v):
        """attention_mgpu on BSHD tensors; q pre-scaled (it applies no scale).
        Raises what the kernel refuses."""
        if features_on():
            raise NotImplementedError(f"attention_mgpu has no {features_text()}")
        if c["causal"] and c["Sq"] != c["Sk"]:
            raise NotImplementedError("attention_mgpu's causal mask is aligned top-left; Sq != Sk is not comparable")
        jnp = self.jnp
        qj = self.to_jax(jnp, c, q, 1.0 / math.sqrt(c["D"]))
        kj, vj = self.to_jax(jnp, c, k), self.to_jax(jnp, c, v)
        block_kv = 128 if c["D"] <= 128 else 64
        config = self.mgpu.TuningConfig(block_q=64, block_kv=block_kv, max_concurrent_steps=2, causal=c["causal"])

        def fn():
            return self.mgpu.attention(qj, kj, vj, config)
        # The backward differentiates with respect to the unscaled q.
        scale = 1.0 / math.sqrt(c["D"])
        fn.jax_fn = lambda a, b, d: self.mgpu.attention((a * scale).astype(a.dtype), b, d, config)
        fn.jax_args = (self.to_jax(jnp, c, q), kj, vj)
        return fn

    def backward(self, c, fwd, q, k, v, seed):
        """The backward pass of fwd (call or call_cudnn's function): the
        jitted pullback of jax.vjp at the same inputs and a fixed random dO,
        returning (dq, dk, dv) as JAX [B, S, H, D] arrays."""
        if features_on():
            raise NotImplementedError("the backward takes no features (nor does tsr_attention_backward)")
        jax = self.jax
        o, pullback = jax.vjp(fwd.jax_fn, *fwd.jax_args)
        do = jax.random.normal(jax.random.PRNGKey(seed + 1), o.shape, dtype=o.dtype)
        pb = jax.jit(pullback)

        def fn():
            return pb(do)
        fn.dout = do
        return fn

    def time(self, fn, reps, warmup):
        ready = lambda x: self.jax.block_until_ready(x)  # noqa: E731 (arrays or tuples of them)
        for _ in range(warmup):
            ready(fn())
        times = []
        for _ in range(reps):
            t0 = time.perf_counter()
            ready(fn())
            times.append((time.perf_counter() - t0) * 1e3)
        return times


# -------------------------------------------------------------------- main

def to_torch(torch, which, x):
    """A backend's output as a torch [B, H, S, D] tensor (JAX's come [B, S, H, D])."""
    if which != "jax":
        return x
    import numpy as np
    return torch.from_numpy(np.asarray(x, dtype=np.float32)).cuda().transpose(1, 2)


def check_forward(torch, which, c, q, k, v, o):
    """(max |error| on the sampled rows, rows checked)"""
    o = to_torch(torch, which, o)
    rows = sample_rows(c)
    ref = reference_rows(torch, c, q, k, v, rows)
    got = torch.stack([o[b, h, r].double() for b, h, r in rows])
    return (got - ref).abs().max().item(), len(rows)


def check_backward(torch, which, c, q, k, v, fn):
    """(max |error| of dq, dk, dv of reference_grads' part, its query rows),
    or (None, 0) when that part is too large to check."""
    do = to_torch(torch, which, fn.dout)
    ref = reference_grads(torch, c, q, k, v, do)
    if ref is None:
        return None, 0
    got = [to_torch(torch, which, g) for g in fn()]
    return grads_error(c, got, ref), c["Hq"] // c["Hkv"] * c["Sq"]


def result(impl, c, **kw):
    r = dict(impl=impl, **c, flops=flops(c), ran=False, status="ok")
    r.update(kw)
    return r


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--like", action="append", help="take the configurations of this tessera-bench JSON file "
                    "(may be given more than once)")
    ap.add_argument("--pass", dest="pass_", default="fwd", choices=["fwd", "bwd", "both"],
                    help="without --like: forward, backward or both (default fwd)")
    ap.add_argument("--dtype", default="f16,bf16")
    ap.add_argument("--d", default="64,128,256")
    ap.add_argument("--seqlen", default="512,1024,2048,4096,8192,16384")
    ap.add_argument("--batch", type=int, default=0)
    ap.add_argument("--heads", type=int, default=0)
    ap.add_argument("--kv-heads", type=int, default=0)
    ap.add_argument("--causal", default="both", choices=["yes", "no", "both"])
    ap.add_argument("--reps", type=int, default=20)
    ap.add_argument("--warmup", type=int, default=3)
    ap.add_argument("--backends", default="torch-flash,torch-cudnn,torch-flex,jax-mgpu,jax-cudnn")
    ap.add_argument("--window", help="L,R: a sliding window, FlashAttention's extents (-1: open side)")
    ap.add_argument("--softcap", type=float, default=0.0, help="soft-cap the scores: X tanh(s / X)")
    ap.add_argument("--alibi", action="store_true", help="ALiBi with the paper's slopes")
    ap.add_argument("--varlen", help="LENS: one packed batch of these lengths (Sq = Sk each)")
    ap.add_argument("--time-limit", type=float, default=0, help="seconds; later runs are skipped")
    ap.add_argument("--json", required=True)
    args = ap.parse_args()
    start = time.monotonic()
    if args.window:
        left, right = (int(x) for x in args.window.split(","))
        FEATURES["window"] = (left, right)
    FEATURES["softcap"] = args.softcap
    FEATURES["alibi"] = args.alibi
    if args.varlen:
        FEATURES["varlen"] = [int(x) for x in args.varlen.split(",")]
    configs = configs_like(args.like) if args.like else default_configs(args)
    if FEATURES["varlen"] is not None:  # one packed batch, as tessera-bench makes it
        longest = max(FEATURES["varlen"] + [1])
        for c in configs:
            c.update(B=len(FEATURES["varlen"]), Sq=longest, Sk=longest)
    wanted = args.backends.split(",")
    out = dict(schema=SCHEMA, tool="bench/peers/peers.py",
               date=datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
               commit=os.environ.get("TESSERA_COMMIT", "unknown"),
               device=dict(kind="cuda", name="unknown", cpu_times=False,
                           timer="CUDA events around each call, L2 flushed (jax-mgpu: host wall clock)",
                           peak_tflops=None, peak_source=""),
               reps=args.reps, warmup=args.warmup, l2_flush_bytes=L2_FLUSH_BYTES, features=features_text(),
               results=[])
    results = out["results"]

    backends = {}
    try:
        backends["torch"] = Torch()
        out["device"]["name"] = backends["torch"].name
        log(f"backend torch {backends['torch'].torch.__version__} on {backends['torch'].name}")
    except Exception as e:
        log(f"backend torch unavailable: {first_line(e)}")
        backends["torch"] = e
    if "jax-mgpu" in wanted or "jax-cudnn" in wanted:
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
            which = "jax" if impl.startswith("jax-") else "torch"
            be = backends.get(which)
            if impl not in ("torch-flash", "torch-cudnn", "torch-flex", "jax-mgpu", "jax-cudnn"):
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
                fn = (t.call(impl, c, q, k, v) if which == "torch" else
                      be.call_cudnn(c, q, k, v) if impl == "jax-cudnn" else be.call(c, q, k, v))
                if c.get("direction") == "bwd":
                    fn = be.backward(c, fn, q, k, v, seed=1000 + i)
                    err, checked = check_backward(t.torch, which, c, q, k, v, fn)
                else:
                    err, checked = check_forward(t.torch, which, c, q, k, v, fn())
                times = be.time(fn, args.reps, args.warmup)
                st = stats(times)
                results.append(result(impl, c, ran=True, **st, tflops=flops(c) / (st["ms_median"] * 1e-3) / 1e12,
                                      err=err, rows_checked=checked, all_rows=False,
                                      **({"timer": "wall"} if which == "jax" else {})))
                log(f"[{i + 1}/{len(configs)}] {impl} {c}: {st['ms_median']:.3f} ms, err "
                    + (f"{err:.2e}" if err is not None else "not checked (too large for the float64 gradients)"))
                del q, k, v, fn
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
