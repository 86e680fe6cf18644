"""Tests of the tessera Python package with NumPy on emu and interp (run by
tests/test_python.c from `make test`; alone: PYTHONPATH=python
TESSERA_LIBRARY=build/libtessera.so python3 -m unittest discover -s python/tests -v)."""

import ctypes
import os
import re
import tempfile
import threading
import unittest

import numpy as np

import tessera

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..")
BUILD = os.environ.get("BUILD", os.path.join(ROOT, "build"))
if not os.path.isabs(BUILD):
    BUILD = os.path.join(ROOT, BUILD)
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

    def test_persistent(self):
        # 100 instances of 256 elements (the last partial); a persistent
        # kernel on emu runs at most as many blocks as emu's 4
        # multiprocessors hold, each looping over its instances.
        n = 99 * 256 + 37
        x, y = self.rng.standard_normal(n).astype(np.float32), self.rng.standard_normal(n).astype(np.float32)
        k = tessera.compile(AXPY, device="emu", persistent=True).kernel()
        z = np.zeros(n, np.float32)
        self.assertEqual(k.grid(x, y, z, 2.0), (100, 1, 1))
        blocks = k.launch_grid(x, y, z, 2.0)
        self.assertTrue(1 <= blocks[0] < 100 and blocks[1:] == (1, 1), blocks)
        k(x, y, z, 2.0)
        np.testing.assert_allclose(z, 2.0 * x + y, rtol=1e-6)
        plain = tessera.compile(AXPY, device="emu").kernel()
        self.assertEqual(plain.launch_grid(x, y, z, 2.0), (100, 1, 1))
        with self.assertRaises(TypeError):
            tessera.compile(AXPY, device="emu", persistant=True)

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


def bf16_bits(x):
    """float32 values rounded to bfloat16 (to nearest, ties to even), as raw uint16 bits."""
    u = np.asarray(x, np.float32).view(np.uint32).astype(np.uint64)
    return ((u + 0x7FFF + ((u >> 16) & 1)) >> 16).astype(np.uint16)


def bf16_values(bits):
    return (np.asarray(bits, np.uint16).astype(np.uint32) << 16).view(np.float32)


SCALE_BF16 = """
kernel scale(X: bf16[N], Y: out bf16[N], a: f32) grid (cdiv(N, 128)) warps 4 {
    let i = program_id(0) * 128;
    Y[i : +128] = bf16(f32(X[i : +128]) * a);
}
"""


class Bfloat16(unittest.TestCase):
    """NumPy has no bfloat16: arrays of ml_dtypes.bfloat16 (which NumPy cannot
    export through DLPack) are taken as they are, and uint16 arrays of the
    bits through tessera.reinterpret; results are bfloat16 roundings."""

    def setUp(self):
        rng = np.random.default_rng(5)
        self.bits = bf16_bits(rng.standard_normal(1000).astype(np.float32) * 100)
        self.want = bf16_bits(bf16_values(self.bits) * np.float32(3.0))

    def test_uint16_bits(self):
        for dev in DEVICES:
            with self.subTest(device=dev):
                k = tessera.compile(SCALE_BF16, device=dev).kernel()
                y = np.zeros(1000, np.uint16)
                k(tessera.reinterpret(self.bits, "bfloat16"), tessera.reinterpret(y, "bfloat16"), 3.0)
                np.testing.assert_array_equal(y, self.want)
                with self.assertRaises(tessera.LaunchError):  # uint16 is not bfloat16 unless said so
                    k(self.bits, tessera.reinterpret(y, "bfloat16"), 3.0)
                with self.assertRaises(TypeError):  # 32-bit elements are not 16-bit ones
                    k(tessera.reinterpret(self.bits.astype(np.uint32), "bfloat16"), y, 3.0)
        with self.assertRaises(ValueError):
            tessera.reinterpret(self.bits, "bfloat17")

    def test_ml_dtypes_arrays(self):
        try:
            import ml_dtypes
        except ImportError:
            if os.environ.get("CI") == "true":
                raise
            self.skipTest("ml_dtypes is not installed (scripts/test.sh installs it in build/py)")
        x = self.bits.view(ml_dtypes.bfloat16)
        for dev in DEVICES:
            with self.subTest(device=dev):
                y = np.zeros(1000, ml_dtypes.bfloat16)
                tessera.compile(SCALE_BF16, device=dev).kernel()(x, y, 3.0)
                np.testing.assert_array_equal(y.view(np.uint16), self.want)
                np.testing.assert_array_equal(y.astype(np.float32), bf16_values(self.want))


class Threads(unittest.TestCase):
    def test_one_kernel_from_several_threads(self):
        """Each call passes its own arguments (tsr_kernel_launch_args): one
        kernel called from 6 threads at once, each with its own arrays."""
        for dev in DEVICES:
            k = tessera.compile(AXPY, device=dev).kernel()
            failures = []

            def work(seed):
                rng = np.random.default_rng(seed)
                for n in (300, 1000, 1500) * 8:
                    x, y = rng.standard_normal((2, n), dtype=np.float32)
                    z = np.full_like(x, np.nan)
                    k(x, y, z, float(seed))
                    if not np.allclose(z, seed * x + y, rtol=1e-6, atol=1e-5):
                        failures.append((seed, n))
            threads = [threading.Thread(target=work, args=(s,)) for s in range(6)]
            for t in threads:
                t.start()
            for t in threads:
                t.join()
            self.assertEqual(failures, [], dev)


class MockStats(ctypes.Structure):
    """The mock driver's MockStats (tests/mock/libcuda_mock.c)."""
    _fields_ = [("launches", ctypes.c_long), ("loads", ctypes.c_long), ("set_smem_calls", ctypes.c_long),
                ("last_set_smem", ctypes.c_long), ("last_grid", ctypes.c_uint * 3),
                ("last_block", ctypes.c_uint * 3), ("last_smem", ctypes.c_uint), ("live_allocs", ctypes.c_int),
                ("last_stream", ctypes.c_void_p), ("live_streams", ctypes.c_int)]


_capsule_new = ctypes.pythonapi.PyCapsule_New
_capsule_new.restype = ctypes.py_object
_capsule_new.argtypes = [ctypes.c_void_p, ctypes.c_char_p, ctypes.c_void_p]


class MockGpuTensor:
    """A GPU tensor as PyTorch or CuPy hands it out, for the mock driver: GPU
    memory from tsr_malloc on a cuda context, exported through DLPack as
    kDLCUDA, recording the stream its consumer asked for."""

    def __init__(self, ctx, host):
        from tessera import _lib
        self.ctx, self.host, self.lib = ctx, np.ascontiguousarray(host), _lib.lib
        self.ptr = ctypes.c_void_p()
        assert self.lib.tsr_malloc(ctx._h(), self.host.nbytes, ctypes.byref(self.ptr)) == 0
        assert self.lib.tsr_memcpy(ctx._h(), self.ptr, self.host.ctypes.data, self.host.nbytes, 0, None) == 0
        self.shape = (ctypes.c_int64 * self.host.ndim)(*self.host.shape)
        self.managed = _lib.DLManagedTensor()
        t = self.managed.dl_tensor
        t.data, t.device, t.ndim = self.ptr.value, _lib.DLDevice(_lib.KDL_CUDA, 0), self.host.ndim
        t.dtype = _lib.DLDataType(2, 32, 1)
        t.shape = self.shape
        self.streams = []

    def __dlpack_device__(self):
        return (2, 0)

    def __dlpack__(self, stream=None, max_version=None):
        self.streams.append(stream)
        return _capsule_new(ctypes.addressof(self.managed), b"dltensor", None)

    def numpy(self):
        out = np.empty_like(self.host)
        assert self.lib.tsr_memcpy(self.ctx._h(), out.ctypes.data, self.ptr, out.nbytes, 1, None) == 0
        return out

    def free(self):
        self.lib.tsr_free(self.ctx._h(), self.ptr)


class CudaWithoutGpu(unittest.TestCase):
    """The cuda path on the mock driver (tests/mock/libcuda_mock.c: the
    driver API over the emulator, "GPU memory" from malloc): tensors in GPU
    memory are passed by their address, without copies (the kernel writes
    the output's own memory and the driver sees no allocation during the
    call), on the caller's stream, which the producers are asked for. What
    it cannot show: a real GPU, PyTorch's, JAX's or CuPy's own exports (see
    Gpu)."""

    def setUp(self):
        mock = os.path.join(BUILD, "tests", "libcuda_mock.so")
        if not os.path.exists(mock):
            self.skipTest("no mock driver at %s (built only with CUDA's cuda.h)" % mock)
        self.mock = ctypes.CDLL(mock)  # the same library the runtime opens, so the same counters
        self.mock.mock_cuda_stats.restype = MockStats
        os.environ["TESSERA_LIBCUDA"] = mock  # read when a cuda context is created
        self.addCleanup(os.environ.pop, "TESSERA_LIBCUDA", None)

    def test_zero_copy_on_a_stream(self):
        from tessera import _lib
        with tessera.Context("cuda") as ctx:
            self.assertIn("cuda:0", ctx.device_name)
            k = ctx.compile(AXPY).kernel()
            rng = np.random.default_rng(7)
            x, y = (MockGpuTensor(ctx, rng.standard_normal(3000, dtype=np.float32)) for _ in range(2))
            z = MockGpuTensor(ctx, np.full(3000, np.nan, np.float32))
            stream = ctypes.c_void_p()
            self.assertEqual(_lib.lib.tsr_stream_create(ctx._h(), ctypes.byref(stream)), 0)
            before = self.mock.mock_cuda_stats()
            k(x, y, z, 0.5, stream=stream.value)
            after = self.mock.mock_cuda_stats()
            self.assertEqual(after.launches, before.launches + 1)
            self.assertEqual(after.last_stream, stream.value)
            self.assertEqual(after.live_allocs, before.live_allocs)  # nothing staged
            self.assertEqual(x.streams, [stream.value])
            np.testing.assert_allclose(z.numpy(), 0.5 * x.host + y.host, rtol=1e-6, atol=1e-6)
            k(x, y, z, 2.0)  # the default stream: the producers are asked without one
            self.assertEqual(x.streams[-1], None)
            np.testing.assert_allclose(z.numpy(), 2 * x.host + y.host, rtol=1e-6, atol=1e-6)
            with self.assertRaises(tessera.LaunchError) as cm:  # host memory is not the GPU's
                k(x.host, y, z, 1.0)
            self.assertIn("its tensors must be kDLCUDA:0", cm.exception.message)
            self.assertEqual(_lib.lib.tsr_stream_destroy(ctx._h(), stream), 0)
            for t in (x, y, z):
                t.free()


class Readme(unittest.TestCase):
    def test_python_section_runs(self):
        """The README's Python example, as written."""
        with open(os.path.join(ROOT, "README.md")) as f:
            text = f.read()
        section = text[text.index("\n## Python\n"):]
        code = re.search(r"```python\n(.*?)```", section, re.S).group(1)
        self.assertLessEqual(len(code.strip().splitlines()), 16)
        cwd = os.getcwd()
        with tempfile.TemporaryDirectory() as tmp:
            os.chdir(tmp)
            try:
                exec(compile(code, "README.md", "exec"), {})
            finally:
                os.chdir(cwd)
            self.assertTrue(os.listdir(tmp))  # it saved its outputs


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
