"""Tests of the tessera Python package with NumPy on emu and interp (run by
tests/test_python.c from `make test`; alone: PYTHONPATH=python
TESSERA_LIBRARY=build/libtessera.so python3 -m unittest discover -s python/tests -v)."""

import os
import tempfile
import unittest

import numpy as np

import tessera

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..")
DEVICES = ("emu", "interp")

AXPY = """
kernel axpy<BLOCK: int = 256>(X: f32[N], Y: f32[N], Z: out f32[N], a: f32) grid (cdiv(N, BLOCK)) warps 4 {
    let i = program_id(0) * BLOCK;
    Z[i : +BLOCK] = a * X[i : +BLOCK] + Y[i : +BLOCK];
}
"""


def softmax(x):
    x = x.astype(np.float64)
    e = np.exp(x - x.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


class Kernels(unittest.TestCase):
    def setUp(self):
        self.rng = np.random.default_rng(1)

    def test_axpy_from_a_string(self):
        for dev in DEVICES:
            with self.subTest(device=dev):
                k = tessera.compile(AXPY, device=dev).kernel("axpy")
                x, y = self.rng.standard_normal((2, 1000), dtype=np.float32)
                z = np.full_like(x, np.nan)
                k(x, y, z, 2.5)
                np.testing.assert_allclose(z, 2.5 * x + y, rtol=1e-6, atol=1e-6)
                z2 = np.full_like(x, np.nan)
                k(a=-1, Z=z2, Y=y, X=x)  # by name
                np.testing.assert_allclose(z2, y - x, rtol=1e-6, atol=1e-6)

    def test_example_file_with_defines(self):
        path = os.path.join(ROOT, "dsl", "examples", "softmax.tsr")
        x = self.rng.standard_normal((37, 300)).astype(np.float16)
        for dev in DEVICES:
            with self.subTest(device=dev):
                mod = tessera.compile_file(path, defines={"T": "f16", "BN": 128}, device=dev)
                self.assertEqual(mod.kernels, ["softmax"])
                y = np.zeros_like(x)
                mod.kernel()(x, y)
                np.testing.assert_allclose(y.astype(np.float64), softmax(x), atol=2e-3, rtol=1e-2)

    def test_strided_view(self):
        # A column block of a bigger matrix: rows are not contiguous.
        big = self.rng.standard_normal((16, 200)).astype(np.float32)
        x = big[:, 10:110]
        mod = tessera.compile_file(os.path.join(ROOT, "dsl", "examples", "softmax.tsr"), defines={"T": "f32"},
                                   device="emu")
        y = np.empty((16, 100), np.float32)
        mod["softmax"](x, y)
        np.testing.assert_allclose(y, softmax(x), atol=1e-6)

    def test_params_and_grid(self):
        k = tessera.compile(AXPY, device="interp").kernel()
        self.assertEqual([repr(p) for p in k.params],
                         ["X: float32[N]", "Y: float32[N]", "Z: out float32[N]", "a: float32"])
        x = np.zeros(1000, np.float32)
        self.assertEqual(k.grid(x, x, x, 1.0), (4, 1, 1))

    def test_attention_forward(self):
        B, H, S, D = 1, 2, 80, 64
        q, kk, v = (self.rng.standard_normal((B, H, S, D)).astype(np.float16) for _ in range(3))
        s = q.astype(np.float64) @ kk.astype(np.float64).transpose(0, 1, 3, 2) / np.sqrt(D)
        p = np.exp(s - s.max(-1, keepdims=True))
        want = (p / p.sum(-1, keepdims=True)) @ v.astype(np.float64)
        lse_want = np.log(p.sum(-1)) + s.max(-1)
        for dev in DEVICES:
            with self.subTest(device=dev):
                o = np.zeros_like(q)
                lse = np.zeros((B, H, S), np.float32)
                tessera.attention_forward(q, kk, v, o, lse, device=dev)
                np.testing.assert_allclose(o.astype(np.float64), want, atol=5e-3)
                np.testing.assert_allclose(lse, lse_want, atol=1e-3)

    def test_attention_backward(self):
        # Gradients of sum(o * g) by the chain rule in float64, grouped-query
        # (4 query heads on 2 key/value heads) and causal with Sq < Sk.
        B, H, Hkv, Sq, Sk, D = 1, 4, 2, 40, 56, 64
        rep = H // Hkv
        q, g = (self.rng.standard_normal((B, H, Sq, D)).astype(np.float16) for _ in range(2))
        kk, v = (self.rng.standard_normal((B, Hkv, Sk, D)).astype(np.float16) for _ in range(2))
        q64, g64 = q.astype(np.float64), g.astype(np.float64)
        k64, v64 = (np.repeat(t.astype(np.float64), rep, axis=1) for t in (kk, v))
        s = q64 @ k64.transpose(0, 1, 3, 2) / np.sqrt(D)
        s = np.where(np.arange(Sk)[None, :] <= np.arange(Sq)[:, None] + (Sk - Sq), s, -np.inf)
        p = np.exp(s - s.max(-1, keepdims=True))
        p /= p.sum(-1, keepdims=True)
        dp = g64 @ v64.transpose(0, 1, 3, 2)
        ds = p * (dp - (p * dp).sum(-1, keepdims=True)) / np.sqrt(D)
        want = {"dq": ds @ k64,
                "dk": (ds.transpose(0, 1, 3, 2) @ q64).reshape(B, Hkv, rep, Sk, D).sum(2),
                "dv": (p.transpose(0, 1, 3, 2) @ g64).reshape(B, Hkv, rep, Sk, D).sum(2)}
        for dev in DEVICES:
            with self.subTest(device=dev):
                o = np.zeros_like(q)
                lse = np.zeros((B, H, Sq), np.float32)
                tessera.attention_forward(q, kk, v, o, lse, causal=True, device=dev)
                got = {"dq": np.zeros_like(q), "dk": np.zeros_like(kk), "dv": np.zeros_like(v)}
                tessera.attention_backward(q, kk, v, o, lse, g, got["dq"], got["dk"], got["dv"], causal=True,
                                           device=dev)
                for name, w in want.items():
                    np.testing.assert_allclose(got[name].astype(np.float64), w, atol=2e-2, err_msg=name)

    def test_context_properties(self):
        with tessera.Context("interp") as ctx:
            self.assertEqual(ctx.device, "interp")
            self.assertRegex(ctx.default_target, r"^sm_\d+a?$")  # (the library's default target)
            mod = ctx.compile(AXPY)
            self.assertIsNone(mod.ir("ptx"))  # the interpreter makes no PTX
            self.assertIn("axpy", mod.ir("tir"))
        with tessera.Context("emu", emu_checks=True, host_threads=1) as ctx:
            self.assertEqual(ctx.device_name, "emu")
            self.assertIn(".entry axpy", ctx.compile(AXPY).ir("ptx"))
        self.assertRegex(tessera.version(), r"^\d+\.\d+\.\d+$")


class Errors(unittest.TestCase):
    def test_compile_error_has_positions(self):
        src = "kernel k(X: f32[N]) grid (1) warps 4 {\n    X[0] = 1.0 +;\n}\n"
        with self.assertRaises(tessera.CompileError) as cm:
            tessera.compile(src, device="interp", name="bad.tsr")
        e = cm.exception
        self.assertEqual(e.status, "TSR_ERR_COMPILE")
        self.assertTrue(e.diagnostics)
        d = e.diagnostics[0]
        self.assertEqual((d.file, d.line, d.severity), ("bad.tsr", 2, "error"))
        self.assertGreater(d.column, 1)
        self.assertIn("bad.tsr:2:", str(e))

    def test_unknown_define(self):
        with self.assertRaises(tessera.CompileError) as cm:
            tessera.compile(AXPY, defines={"NOPE": 3}, device="interp")
        self.assertIn("NOPE", cm.exception.message)

    def test_launch_errors(self):
        k = tessera.compile(AXPY, device="emu").kernel()
        x = np.zeros(100, np.float32)
        with self.assertRaises(tessera.LaunchError) as cm:
            k(x, np.zeros(99, np.float32), x, 1.0)  # N differs
        self.assertIn("N", cm.exception.message)
        with self.assertRaises(tessera.LaunchError):
            k(x, x.astype(np.float64), x, 1.0)  # dtype
        with self.assertRaises(TypeError):
            k(x, x, x)  # missing a
        with self.assertRaises(TypeError):
            k(x, x, x, 1.0, W=x)
        with self.assertRaises(TypeError):
            k(x, [1.0] * 100, x, 1.0)  # not DLPack
        with self.assertRaises(TypeError):
            k(x, x, x, "two")
        with self.assertRaises(ValueError):
            k(x, x, np.broadcast_to(np.float32(0), (100,)), 1.0)  # read-only output

    def test_unknown_kernel_and_device(self):
        mod = tessera.compile(AXPY, device="interp")
        with self.assertRaises(tessera.TesseraError) as cm:
            mod.kernel("nope")
        self.assertEqual(cm.exception.status, "TSR_ERR_NOT_FOUND")
        with self.assertRaises(ValueError):
            tessera.Context("gpu")
        with self.assertRaises(tessera.TesseraError) as cm:
            tessera.Context("emu", target="sm_75")
        self.assertIn("unknown target 'sm_75'", str(cm.exception))

    def test_cuda_without_gpu(self):
        try:
            ctx = tessera.Context("cuda")
        except tessera.TesseraError as e:
            self.assertIn(e.status, ("TSR_ERR_NO_DEVICE", "TSR_ERR_UNSUPPORTED"))
            self.assertTrue(e.message)
            return
        ctx.close()
        self.skipTest("a GPU is present: the no-GPU error cannot be checked")


class Interop(unittest.TestCase):
    def test_cli_saves_what_numpy_reads(self):
        """`tessera run --save` writes .npy files NumPy reads, and reads NumPy's (Fortran order, big-endian)."""
        exe = os.path.join(os.environ.get("BUILD", os.path.join(ROOT, "build")), "tessera")
        if not os.path.exists(exe):
            self.skipTest("%s is not built" % exe)
        with tempfile.TemporaryDirectory() as tmp:
            x = np.asfortranarray(np.random.default_rng(3).standard_normal((5, 70))).astype(">f4")
            np.save(os.path.join(tmp, "x.npy"), x)
            cmd = "%s run %s/dsl/examples/softmax.tsr -D T=f32 --device interp --arg X=%s/x.npy --save %s/out -q" % (
                exe, ROOT, tmp, tmp)
            self.assertEqual(os.system(cmd + " > /dev/null"), 0)
            y = np.load(os.path.join(tmp, "out", "Y.npy"))
            self.assertEqual(y.dtype, np.float32)
            np.testing.assert_allclose(y, softmax(x), atol=1e-6)
            np.testing.assert_array_equal(np.load(os.path.join(tmp, "out", "X.npy")), x.astype(np.float32))


class Gpu(unittest.TestCase):
    def test_torch_on_cuda(self):
        try:
            import torch
        except ImportError:
            self.skipTest("PyTorch is not installed")
        if not torch.cuda.is_available():
            self.skipTest("no GPU")
        k = tessera.compile(AXPY, device="cuda").kernel()
        x, y = torch.randn(2, 5000, device="cuda")
        z = torch.empty_like(x)
        k(x, y, z, 3.0)
        torch.testing.assert_close(z, 3 * x + y)


if __name__ == "__main__":
    unittest.main()
