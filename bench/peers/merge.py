#!/usr/bin/env python3
"""Puts tessera-bench's results and the peers' (peers.py) side by side: one
table of TFLOP/s per configuration and implementation on stdout, and with
--plot an SVG (one panel per mask and head dim, TFLOP/s against sequence
length, one line per implementation and dtype). Standard library only.

  python3 bench/peers/merge.py bench.json peers.json [--plot merged.svg]
"""
import argparse
import json
import math
import os
import sys

ORDER = ["tessera", "reference", "torch-flash", "torch-cudnn", "jax-mgpu"]
COLORS = {"tessera": "#1f77b4", "reference": "#ff7f0e", "torch-flash": "#2ca02c", "torch-cudnn": "#d62728",
          "jax-mgpu": "#9467bd"}
KEY = ("direction", "dtype", "causal", "D", "B", "Hq", "Hkv", "Sq", "Sk")


def key_of(r):
    """A result's configuration; one without "direction" is a forward one."""
    return tuple(r.get(k, "fwd") if k == "direction" else r[k] for k in KEY)


def panel_of(r):
    """(direction, causal): one row of the plot's panels"""
    return (r.get("direction", "fwd"), bool(r["causal"]))


def load(paths):
    runs, results = [], []
    for p in paths:
        try:
            with open(p) as f:
                data = json.load(f)
        except (OSError, ValueError) as e:
            print(f"merge: skipping {p}: {e}", file=sys.stderr)
            continue
        runs.append((p, data))
        results += data.get("results", [])
    return runs, results


def impls_of(results):
    seen = []
    for r in results:
        if r["impl"] not in seen:
            seen.append(r["impl"])
    return sorted(seen, key=lambda i: (ORDER.index(i) if i in ORDER else len(ORDER), i))


def cell(r):
    if r is None:
        return "-"
    if not r.get("ran"):
        s = r.get("status", "")
        return "skipped" if s.startswith("skipped") else "refused" if s.startswith("refused") else "error"
    mark = "" if r.get("pass", True) is not False else "!"
    return f"{r['tflops']:.4g}{mark}"


def table(runs, results):
    impls = impls_of(results)
    by_key = {}
    for r in results:
        by_key.setdefault(key_of(r), {})[r["impl"]] = r
    lines = []
    for path, data in runs:
        dev = data.get("device", {})
        lines.append(f"{os.path.basename(path)}: {data.get('tool', '?')} on {dev.get('name', '?')}, {data.get('date', '?')}, "
                     f"commit {data.get('commit', '?')}; {dev.get('timer', '')}")
    cpu = any(d.get("device", {}).get("cpu_times") for _, d in runs)
    lines.append(f"TFLOP/s at the median time ({'CPU times: not GPU speed' if cpu else 'GPU'}); "
                 "'!' marks a failed correctness check, 'refused' a shape the library does not take")
    head = f"{'pass':4} {'dtype':5} {'causal':6} {'D':>4} {'B':>5} {'H':>4} {'Hkv':>4} {'Sq':>6} {'Sk':>6} |"
    head += "".join(f" {i:>12}" for i in impls)
    head += " | tessera/best peer"
    lines += ["", head, "-" * len(head)]
    peers = [i for i in impls if i not in ("tessera", "reference")]
    for key in by_key:
        row = by_key[key]
        direction, dt, causal, d, b, h, hkv, sq, sk = key
        line = f"{direction:4} {dt:5} {'yes' if causal else 'no':6} {d:>4} {b:>5} {h:>4} {hkv:>4} {sq:>6} {sk:>6} |"
        line += "".join(f" {cell(row.get(i)):>12}" for i in impls)
        best = max((row[p]["tflops"] for p in peers if p in row and row[p].get("ran")), default=None)
        t = row.get("tessera")
        ratio = f"{t['tflops'] / best:.2f}x" if best and t and t.get("ran") else "-"
        lines.append(line + f" | {ratio:>8}")
    return "\n".join(lines)


def svg(results, title):
    dims = sorted({r["D"] for r in results})
    masks = sorted({panel_of(r) for r in results})
    seqs = sorted({r["Sq"] for r in results})
    impls = impls_of(results)
    dtypes = sorted({r["dtype"] for r in results}, key=lambda d: d != "f16")
    ymax = max([r["tflops"] for r in results if r.get("ran")] + [1e-12])
    p = 10 ** math.floor(math.log10(ymax))
    ymax = next(m * p for m in (1, 2, 5, 10) if ymax <= m * p)
    W, H, L, T, G = 320, 220, 60, 70 + 16 * ((len(impls) * len(dtypes) + 3) // 4), 40
    width, height = L + len(dims) * (W + G), T + len(masks) * (H + G + 20) + 20
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" font-family="sans-serif" '
           f'font-size="12">', '<rect width="100%" height="100%" fill="white"/>',
           f'<text x="10" y="20" font-size="15">{esc(title)}</text>']
    for n, (impl, dt) in enumerate((i, d) for i in impls for d in dtypes):
        x, y = 10 + 170 * (n % 4), 40 + 16 * (n // 4)
        dash = ' stroke-dasharray="5,3"' if dt != "f16" else ""
        out.append(f'<line x1="{x}" y1="{y}" x2="{x + 24}" y2="{y}" stroke="{COLORS.get(impl, "#555")}" '
                   f'stroke-width="2"{dash}/><text x="{x + 28}" y="{y + 4}">{esc(impl)} {dt}</text>')
    for mi, (direction, causal) in enumerate(masks):
        for di, d in enumerate(dims):
            x0, y0 = L + di * (W + G), T + mi * (H + G + 20)
            out.append(f'<text x="{x0}" y="{y0 - 6}">{"backward" if direction == "bwd" else "forward"}, D = {d}, '
                       f'{"causal" if causal else "not causal"}</text>')
            out.append(f'<rect x="{x0}" y="{y0}" width="{W}" height="{H}" fill="none" stroke="#888"/>')
            for g in range(5):
                y = y0 + H - H * g / 4
                out.append(f'<line x1="{x0}" y1="{y:.1f}" x2="{x0 + W}" y2="{y:.1f}" stroke="#eee"/>')
                if di == 0:
                    out.append(f'<text x="{x0 - 4}" y="{y + 4:.1f}" text-anchor="end">{ymax * g / 4:.3g}</text>')
            for s, sq in enumerate(seqs):
                out.append(f'<text x="{x0 + W * (s + 0.5) / len(seqs):.1f}" y="{y0 + H + 14}" '
                           f'text-anchor="middle">{sq}</text>')
            out.append(f'<text x="{x0 + W / 2}" y="{y0 + H + 30}" text-anchor="middle">sequence length</text>')
            if di == 0:
                out.append(f'<text x="14" y="{y0 + H / 2}" transform="rotate(-90 14 {y0 + H / 2})" '
                           f'text-anchor="middle">TFLOP/s</text>')
            for impl in impls:
                for dt in dtypes:
                    pts = []
                    for r in results:
                        if ((r["impl"], r["dtype"], r["D"]) == (impl, dt, d) and panel_of(r) == (direction, causal)
                                and r.get("ran")):
                            x = x0 + W * (seqs.index(r["Sq"]) + 0.5) / len(seqs)
                            pts.append((x, y0 + H - H * r["tflops"] / ymax))
                    pts.sort()
                    color = COLORS.get(impl, "#555")
                    for x, y in pts:
                        out.append(f'<circle cx="{x:.1f}" cy="{y:.1f}" r="3" fill="{color}"/>')
                    if len(pts) > 1:
                        dash = ' stroke-dasharray="5,3"' if dt != "f16" else ""
                        out.append(f'<polyline points="{" ".join(f"{x:.1f},{y:.1f}" for x, y in pts)}" fill="none" '
                                   f'stroke="{color}" stroke-width="2"{dash}/>')
    out.append("</svg>")
    return "\n".join(out) + "\n"


def esc(s):
    return str(s).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("files", nargs="+", help="tessera-bench and peers.py JSON files")
    ap.add_argument("--plot", help="write an SVG here")
    args = ap.parse_args()
    runs, results = load(args.files)
    if not results:
        print("merge: no results in " + ", ".join(args.files), file=sys.stderr)
        return 1
    print(table(runs, results))
    if args.plot:
        names = {d.get("device", {}).get("name", "?") for _, d in runs} - {"unknown"}
        cpu = any(d.get("device", {}).get("cpu_times") for _, d in runs)
        passes = sorted({r.get("direction", "fwd") for r in results})
        what = " and ".join({"fwd": "forward", "bwd": "backward"}.get(p, p) for p in passes)
        title = f"Attention {what} on {', '.join(sorted(names))}" + (" (CPU times, not GPU speed)" if cpu else "")
        with open(args.plot, "w") as f:
            f.write(svg(results, title))
    return 0


if __name__ == "__main__":
    sys.exit(main())
