#!/usr/bin/env python3
"""Derives the constants of backend/codegen_math.c (pure Python, no packages):
2*pi split into three f32 parts, log2(e) split into two, and g, the degree-9
Chebyshev interpolant of log2(erfc(a)) on [1, 4] in u = (2a - 5) / 3 (erf(a)
= 1 - 2^g(a) there), as f32 monomial coefficients. It prints them and the
largest error of erf computed that way in f32 (fmas, exact ex2) over [1, 4],
in units of 2^-24.
    python3 scripts/fit-erf.py"""
import math
import struct
from decimal import Decimal, getcontext


def f32(v):
    return struct.unpack('f', struct.pack('f', v))[0]


def fma32(a, b, c):
    return f32(a * b + c)  # exact enough: f32 products are exact in double


def split(value, parts):
    out = []
    for _ in range(parts):
        out.append(f32(float(value)))
        value -= Decimal(out[-1])
    return out


getcontext().prec = 60
PI = Decimal('3.14159265358979323846264338327950288419716939937510582097494')
print('2pi =', ' + '.join(float.hex(c) for c in split(2 * PI, 3)))
print('1/(2pi) =', float.hex(f32(float(1 / (2 * PI)))))
print('log2(e) =', ' + '.join(float.hex(c) for c in split(1 / Decimal(2).ln(), 2)))
print('ln 2 =', float.hex(f32(float(Decimal(2).ln()))))

DEG = 9
N = DEG + 1
nodes = [math.cos(math.pi * (k + 0.5) / N) for k in range(N)]
vals = [math.log2(math.erfc((3 * u + 5) / 2)) for u in nodes]
cheb = [(2.0 / N) * sum(vals[k] * math.cos(j * math.pi * (k + 0.5) / N) for k in range(N)) for j in range(N)]
cheb[0] /= 2
T = [[1.0], [0.0, 1.0]]
for j in range(2, N):
    a = [0.0] + [2 * t for t in T[j - 1]]
    b = T[j - 2] + [0.0] * (len(a) - len(T[j - 2]))
    T.append([x - y for x, y in zip(a, b)])
mono = [0.0] * N
for j in range(N):
    for i, t in enumerate(T[j]):
        mono[i] += cheb[j] * t
g = [f32(m) for m in mono]
print('g =', ', '.join(float.hex(c) for c in g))
worst = 0
for i in range(20001):
    a = f32(1 + 3 * i / 20000.0)
    u = fma32(a, f32(2 / 3.0), f32(-5 / 3.0))
    p = g[-1]
    for c in reversed(g[:-1]):
        p = fma32(p, u, c)
    worst = max(worst, abs(f32(1 - f32(2 ** p)) - math.erf(a)) / 2 ** -24)
print('max error of erf on [1, 4]: %.3f x 2^-24' % worst)
