"""Tessera from Python: compile kernels written in the Tessera DSL and launch
them on tensors of any library that speaks DLPack.

    import numpy as np, tessera
    k = tessera.compile(SOURCE, device="emu", defines={"T": "f32"}).kernel("softmax")
    y = np.empty_like(x)
    k(x, y)                        # or k(X=x, Y=y); scalars as Python numbers

Devices: "cuda" (the GPU; tensors from PyTorch, JAX or CuPy in GPU memory,
passed without copies), "emu" (the PTX emulator on the CPU) and "interp" (the
tile-IR interpreter), both taking host tensors such as NumPy arrays; "auto"
picks cuda when there is a GPU, else emu. This is a thin layer over
libtessera's C API (include/tessera.h) through ctypes; the library is found
through TESSERA_LIBRARY, a checkout's build/, or the system's library path.

NumPy has no bfloat16: pass ml_dtypes.bfloat16 arrays, or uint16 arrays of
the bits through tessera.reinterpret(a, "bfloat16").

Errors are raised as TesseraError (CompileError, LaunchError, NoDeviceError,
...) carrying the library's message; a CompileError's `diagnostics` lists
each error with its file, line and column.
"""

import ctypes
import math
import re
import threading

from . import _lib
from ._lib import lib

__all__ = ["TesseraError", "CompileError", "LaunchError", "NoDeviceError", "DeviceError", "Diagnostic",
           "Context", "Module", "Kernel", "Param", "context", "compile", "compile_file", "attention_forward",
           "attention_backward", "reinterpret", "version"]


def version():
    """The version of the libtessera loaded."""
    return _lib.text(lib.tsr_version())

# ---------------------------------------------------------------- errors


class Diagnostic:
    """One diagnostic of the compiler: file, line and column (1-based), the
    severity ("error", "note", ...) and the message."""

    def __init__(self, file, line, column, severity, message):
        self.file, self.line, self.column, self.severity, self.message = file, line, column, severity, message

    def __repr__(self):
        return "%s:%d:%d: %s: %s" % (self.file, self.line, self.column, self.severity, self.message)


_DIAG = re.compile(r"^(.*?):(\d+):(\d+): (error|warning|note): (.*)$")


def _diagnostics(message):
    out = []
    for line in message.splitlines():
        m = _DIAG.match(line)
        if m:
            out.append(Diagnostic(m.group(1), int(m.group(2)), int(m.group(3)), m.group(4), m.group(5)))
    return out


class TesseraError(Exception):
    """A call into libtessera failed. `status` is the C status name (e.g.
    "TSR_ERR_LAUNCH"), `message` the library's message, `diagnostics` the
    positions it names (compile errors)."""

    def __init__(self, status, message):
        self.status = _lib.text(lib.tsr_status_name(status))
        self.message = message
        self.diagnostics = _diagnostics(message)
        super().__init__("%s: %s" % (self.status, message))


class CompileError(TesseraError):
    """The program has errors (TSR_ERR_COMPILE)."""


class LaunchError(TesseraError):
    """The arguments of a launch are invalid; nothing ran (TSR_ERR_LAUNCH)."""


class NoDeviceError(TesseraError):
    """The device asked for is not there (TSR_ERR_NO_DEVICE)."""


class DeviceError(TesseraError):
    """The device failed, e.g. a fault the emulator found (TSR_ERR_DEVICE)."""


_ERRORS = {2: CompileError, 3: NoDeviceError, 4: DeviceError, 5: LaunchError}


def _check(status, message_fn):
    if status != 0:
        raise _ERRORS.get(status, TesseraError)(status, _lib.text(message_fn()))

# ---------------------------------------------------------------- DLPack


_DTYPES = {(0, 8): "int8", (0, 16): "int16", (0, 32): "int32", (0, 64): "int64", (1, 8): "uint8",
           (2, 16): "float16", (2, 32): "float32", (2, 64): "float64", (4, 16): "bfloat16", (6, 8): "bool"}


def _dtype_name(dt):
    return _DTYPES.get((dt.code, dt.bits), "code %d bits %d" % (dt.code, dt.bits))


def _dtype_code(name):
    for key, value in _DTYPES.items():
        if value == name:
            return key
    raise ValueError("unknown dtype %r (one of %s)" % (name, ", ".join(sorted(_DTYPES.values()))))


# NumPy extension dtypes (ml_dtypes, as JAX uses) that NumPy cannot export
# through DLPack: such an array is borrowed as unsigned integers of its size
# and its DLTensor tagged with the dtype below. (One line per dtype.)
_EXTENSION_DTYPES = {
    "bfloat16": "bfloat16",
}


class _Reinterpreted:
    """What reinterpret returns: a tensor and the dtype to read its elements as."""

    def __init__(self, obj, dtype):
        self.obj, self.dtype = obj, dtype


def reinterpret(obj, dtype):
    """The same memory as obj (any DLPack tensor), read by Tessera as
    elements of dtype ("bfloat16", "float16", "int16", ...) of the same
    size: e.g. a NumPy uint16 array holding bfloat16 bits, for NumPy has no
    bfloat16 of its own (ml_dtypes.bfloat16 arrays are taken as they are).
    Pass the result where the kernel takes the tensor; nothing is copied."""
    _dtype_code(dtype)
    return _Reinterpreted(obj, dtype)


def _numpy_extension_dtype(obj):
    """The Tessera dtype of a NumPy array of an ml_dtypes type, else None."""
    dt = getattr(obj, "dtype", None)
    if dt is None or getattr(dt, "kind", None) != "V" or not hasattr(obj, "view"):
        return None
    return _EXTENSION_DTYPES.get(getattr(dt, "name", None))


class _Borrowed:
    """A tensor borrowed through DLPack for one launch: the capsule (which
    owns the producer's memory until it is released) and a copy of its
    DLTensor (whose shape and strides stay the capsule's), the dtype
    replaced for reinterpret() and NumPy's ml_dtypes arrays."""

    def __init__(self, obj, name, stream):
        dtype = None
        if isinstance(obj, _Reinterpreted):
            obj, dtype = obj.obj, obj.dtype
        elif _numpy_extension_dtype(obj):
            dtype = _numpy_extension_dtype(obj)
            import numpy  # (the array is NumPy's, so NumPy is there)
            obj = obj.view({1: numpy.uint8, 2: numpy.uint16, 4: numpy.uint32, 8: numpy.uint64}[obj.dtype.itemsize])
        self.obj = obj  # (a view made here must outlive the launch)
        if not hasattr(obj, "__dlpack__"):
            raise TypeError("argument %s: %s is neither a number nor a DLPack tensor (no __dlpack__)"
                            % (name, type(obj).__name__))
        kwargs = {} if stream is None else {"stream": stream}
        try:
            self.capsule = obj.__dlpack__(max_version=(1, 0), **kwargs)
        except TypeError:  # a producer older than DLPack 1.0
            self.capsule = obj.__dlpack__(**kwargs)
        self.read_only = False
        if _lib._capsule_is_valid(self.capsule, b"dltensor_versioned"):
            managed = _lib.DLManagedTensorVersioned.from_address(
                _lib._capsule_get(self.capsule, b"dltensor_versioned"))
            if managed.version.major != 1:
                raise TypeError("argument %s: DLPack version %d is not supported" % (name, managed.version.major))
            self.read_only = bool(managed.flags & _lib.DLPACK_FLAG_READ_ONLY)
        else:
            managed = _lib.DLManagedTensor.from_address(_lib._capsule_get(self.capsule, b"dltensor"))
        self.tensor = _lib.DLTensor()
        ctypes.pointer(self.tensor)[0] = managed.dl_tensor
        if dtype is not None:
            code, bits = _dtype_code(dtype)
            if bits != self.tensor.dtype.bits * self.tensor.dtype.lanes:
                raise TypeError("argument %s: elements of %d bits cannot be read as %s" %
                                (name, self.tensor.dtype.bits * self.tensor.dtype.lanes, dtype))
            self.tensor.dtype = _lib.DLDataType(code, bits, 1)
        self.address = ctypes.addressof(self.tensor)

# ---------------------------------------------------------------- handles


class Param:
    """A kernel parameter as declared: name, whether it is a tensor and an
    output, its dtype name ("float16", ...) and, for tensors, its shape as a
    tuple of ints (constant dims) and strings (symbolic dims)."""

    def __init__(self, info):
        self.name = _lib.text(info.name)
        self.is_tensor = bool(info.is_tensor)
        self.is_output = bool(info.is_output)
        self.dtype = _dtype_name(info.dtype)
        self.shape = tuple(_lib.text(info.dim_names[d]) if info.dim_names[d] else int(info.dim_values[d])
                           for d in range(info.ndim))

    def __repr__(self):
        if not self.is_tensor:
            return "%s: %s" % (self.name, self.dtype)
        return "%s: %s%s[%s]" % (self.name, "out " if self.is_output else "", self.dtype,
                                 ", ".join(str(d) for d in self.shape))


class Context:
    """A device and everything compiled for it. device: "auto", "cuda",
    "emu" or "interp". emu_checks: on emu, also detect shared-memory races
    and reads of uninitialized registers (slower). host_threads: CPU threads
    per launch on emu and interp (0: all cores). target: the code to compile,
    "sm_80", "sm_90" or "sm_90a" (None: the device's own). Threads: calls of
    kernels (each passes its own arguments), compiles and attention may run
    in several threads at once on one context; Kernel.grid (which binds
    arguments on the kernel) one thread at a time per kernel; close() only
    when no other call is running."""

    def __init__(self, device="auto", ordinal=0, emu_checks=False, host_threads=0, cache_dir=None, target=None):
        self._handle = None
        if device not in _lib.DEVICE_KINDS:
            raise ValueError("device must be one of auto, cuda, emu, interp; got %r" % (device,))
        # Zeroed by ctypes; struct_size says which fields this binding knows
        # (tsr_context_options_init would write the library's whole struct,
        # which may be larger than this one).
        opts = _lib.ContextOptions()
        opts.struct_size = ctypes.sizeof(_lib.ContextOptions)
        opts.device = _lib.DEVICE_KINDS[device]
        opts.device_ordinal = ordinal
        opts.host_threads = host_threads
        opts.flags = (_lib.TSR_EMU_CHECK_RACES | _lib.TSR_EMU_CHECK_UNINIT) if emu_checks else 0
        self._cache_dir = cache_dir.encode() if cache_dir else None
        opts.cache_dir = self._cache_dir
        self._target = target.encode() if target else None
        opts.target = self._target
        handle = ctypes.c_void_p()
        status = lib.tsr_context_create(ctypes.byref(opts), ctypes.byref(handle))
        self._handle = handle.value
        if status != 0:
            message = _lib.text(lib.tsr_context_error(self._handle)) if self._handle else "out of memory"
            lib.tsr_context_destroy(self._handle)
            self._handle = None
            raise _ERRORS.get(status, TesseraError)(status, message)

    def close(self):
        """Destroys the context with its modules (also done when it is collected)."""
        if self._handle:
            lib.tsr_context_destroy(self._handle)
            self._handle = None

    def __del__(self):
        self.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def _h(self):
        if not self._handle:
            raise ValueError("the context is closed")
        return self._handle

    @property
    def device(self):
        """"cuda", "emu" or "interp"."""
        kind = lib.tsr_context_device_kind(self._h())
        return {v: k for k, v in _lib.DEVICE_KINDS.items()}[kind]

    @property
    def device_name(self):
        return _lib.text(lib.tsr_context_device_name(self._h()))

    @property
    def default_target(self):
        return _lib.text(lib.tsr_context_default_target(self._h()))

    def _options(self, defines, kernel, target, name, keep, options=None):
        defines = dict(defines or {})
        arr = (_lib.Define * max(1, len(defines)))()
        keep.append(arr)
        for i, (k, v) in enumerate(defines.items()):
            if isinstance(v, bool):
                v = "true" if v else "false"
            arr[i].name = str(k).encode()
            arr[i].value = str(v).encode()
            keep.extend([arr[i].name, arr[i].value])
        opts = _lib.CompileOptions()
        opts.struct_size = ctypes.sizeof(_lib.CompileOptions)
        opts.defines = arr
        opts.ndefines = len(defines)
        opts.target = target.encode() if target else None
        opts.kernel = kernel.encode() if kernel else None
        opts.source_name = name.encode() if name else None
        opts.keep_ir = _lib.TSR_IR_TIR  # (PTX is kept on cuda and emu anyway)
        opts.flags = _flags(options or {})
        return opts

    def compile(self, source, defines=None, kernel=None, target=None, name="<string>", **options):
        """Compiles DSL source text. defines: compile-time parameters
        ({"T": "f16", "BM": 64}); kernel: compile only that one; name: the
        file name in diagnostics. options (each False unless given):
        persistent (blocks that loop over the program's instances,
        TSR_COMPILE_PERSISTENT), line_info, and for ablation
        no_warp_specialize, no_overlap, no_pingpong. Raises CompileError."""
        keep = []
        opts = self._options(defines, kernel, target, name, keep, options)
        data = source.encode() if isinstance(source, str) else bytes(source)
        handle = ctypes.c_void_p()
        _check(lib.tsr_module_compile(self._h(), data, len(data), ctypes.byref(opts), ctypes.byref(handle)),
               lambda: lib.tsr_context_error(self._handle))
        return Module(self, handle.value)

    def compile_file(self, path, defines=None, kernel=None, target=None, **options):
        """As compile, with a .tsr file (diagnostics name the path)."""
        keep = []
        opts = self._options(defines, kernel, target, None, keep, options)
        handle = ctypes.c_void_p()
        _check(lib.tsr_module_compile_file(self._h(), str(path).encode(), ctypes.byref(opts), ctypes.byref(handle)),
               lambda: lib.tsr_context_error(self._handle))
        return Module(self, handle.value)

    def attention_forward(self, q, k, v, o, lse, scale=None, causal=False, stream=None):
        """Flash attention, forward, with the kernels built into the library:
        o = softmax(scale * q k^T) v per head and lse, the natural-log
        log-sum-exp of each score row. q [B, Hq, Sq, D], k and v [B, Hkv, Sk,
        D], o like q, lse [B, Hq, Sq] float32; float16 or bfloat16; scale
        defaults to 1/sqrt(D). Synchronizes before returning."""
        tensors = [_Borrowed(t, n, stream) for t, n in ((q, "q"), (k, "k"), (v, "v"), (o, "o"), (lse, "lse"))]
        for b, n in zip(tensors[3:], ("o", "lse")):
            if b.read_only:
                raise ValueError("attention_forward: %s is read-only" % n)
        if scale is None:
            scale = 1.0 / math.sqrt(tensors[0].tensor.shape[tensors[0].tensor.ndim - 1])
        status = lib.tsr_attention_forward(self._h(), *[b.address for b in tensors], float(scale), int(bool(causal)),
                                           _stream(stream))
        _check(status, lambda: lib.tsr_context_error(self._handle))
        _check(lib.tsr_stream_synchronize(self._h(), _stream(stream)), lambda: lib.tsr_context_error(self._handle))

    def attention_backward(self, q, k, v, o, lse, dout, dq, dk, dv, scale=None, causal=False, stream=None):
        """Flash attention, backward: dq, dk, dv (like q, k, v) from dout (like
        o), given q, k, v and the o and lse of attention_forward with the same
        scale and causal. Grouped-query attention sums dk and dv over the
        query heads of a group. The same bits on every run. Synchronizes
        before returning."""
        names = ("q", "k", "v", "o", "lse", "dout", "dq", "dk", "dv")
        tensors = [_Borrowed(t, n, stream) for t, n in zip((q, k, v, o, lse, dout, dq, dk, dv), names)]
        for b, n in zip(tensors[6:], names[6:]):
            if b.read_only:
                raise ValueError("attention_backward: %s is read-only" % n)
        if scale is None:
            scale = 1.0 / math.sqrt(tensors[0].tensor.shape[tensors[0].tensor.ndim - 1])
        status = lib.tsr_attention_backward(self._h(), *[b.address for b in tensors], float(scale),
                                            int(bool(causal)), _stream(stream))
        _check(status, lambda: lib.tsr_context_error(self._handle))
        _check(lib.tsr_stream_synchronize(self._h(), _stream(stream)), lambda: lib.tsr_context_error(self._handle))


def _stream(stream):
    return ctypes.c_void_p(stream) if stream else None


class Module:
    """Compiled kernels; lives as long as its context."""

    def __init__(self, ctx, handle):
        self.context = ctx
        self._handle = handle

    def __del__(self):
        # (the context destroys its modules itself; at interpreter exit it may be gone first)
        if self._handle and getattr(self.context, "_handle", None):
            lib.tsr_module_destroy(self._handle)
        self._handle = None

    @property
    def kernels(self):
        """The names of the module's kernels."""
        return [_lib.text(lib.tsr_module_kernel_name(self._handle, i))
                for i in range(lib.tsr_module_kernel_count(self._handle))]

    def kernel(self, name=None):
        """The kernel called name (None: the module's only kernel)."""
        handle = ctypes.c_void_p()
        _check(lib.tsr_module_get_kernel(self._handle, name.encode() if name else None, ctypes.byref(handle)),
               lambda: lib.tsr_module_error(self._handle))
        return Kernel(self, handle.value)

    __getitem__ = kernel

    def ir(self, kind="ptx", kernel=None):
        """The text of an intermediate form of a kernel: "tir", or "ptx" (on
        cuda and emu; None on interp)."""
        flag = {"tir": _lib.TSR_IR_TIR, "ptx": _lib.TSR_IR_PTX}[kind]
        t = lib.tsr_module_ir(self._handle, kernel.encode() if kernel else None, flag)
        return _lib.text(t) if t is not None else None


class Kernel:
    """A kernel of a module. Call it with one argument per parameter, by
    position or by name: DLPack tensors (NumPy arrays on emu and interp;
    PyTorch, JAX or CuPy GPU tensors on cuda; bfloat16 as ml_dtypes arrays
    or through reinterpret) and Python numbers. The call launches the kernel
    and waits for it; outputs are written in place. Calls from several
    threads at once are fine (each passes its own arguments)."""

    def __init__(self, module, handle):
        self.module = module
        self._handle = handle
        self.name = _lib.text(lib.tsr_kernel_name(handle))
        self.params = []
        for i in range(lib.tsr_kernel_param_count(handle)):
            info = _lib.ParamInfo()
            _check(lib.tsr_kernel_param_info(handle, i, ctypes.byref(info)), lambda: lib.tsr_kernel_error(handle))
            self.params.append(Param(info))

    def __repr__(self):
        return "<tessera kernel %s(%s)>" % (self.name, ", ".join(repr(p) for p in self.params))

    def _arguments(self, args, kwargs):
        if len(args) > len(self.params):
            raise TypeError("%s takes %d arguments, %d given" % (self.name, len(self.params), len(args)))
        values = dict(zip((p.name for p in self.params), args))
        for key, value in kwargs.items():
            if key == "stream":
                continue
            if key not in (p.name for p in self.params):
                raise TypeError("%s has no parameter %r (parameters: %s)"
                                % (self.name, key, ", ".join(p.name for p in self.params)))
            if key in values:
                raise TypeError("%s: argument %s given twice" % (self.name, key))
            values[key] = value
        missing = [p.name for p in self.params if p.name not in values]
        if missing:
            raise TypeError("%s: missing argument%s %s" % (self.name, "s" if len(missing) > 1 else "",
                                                           ", ".join(missing)))
        return values

    def _scalar(self, p, value):
        try:
            return float(value)
        except (TypeError, ValueError):
            raise TypeError("%s: %s is a scalar (%s); got %s" % (self.name, p.name, p.dtype, type(value).__name__))

    def __call__(self, *args, **kwargs):
        """Launches the kernel and waits for it. stream= (cuda): a CUstream
        as an int, for the launch and for the producers' DLPack export."""
        stream = kwargs.get("stream")
        values = self._arguments(args, kwargs)
        ctx = self.module.context
        borrowed = []  # the capsules stay alive until the launch completed
        cargs = (_lib.Arg * max(1, len(self.params)))()
        for i, p in enumerate(self.params):
            value = values[p.name]
            if p.is_tensor:
                b = _Borrowed(value, p.name, stream)
                if p.is_output and b.read_only:
                    raise ValueError("%s: output %s is read-only" % (self.name, p.name))
                borrowed.append(b)
                cargs[i].tensor = b.address
            else:
                cargs[i].scalar = self._scalar(p, value)
        # Arguments per call (tsr_kernel_launch_args), so that several
        # threads may call one kernel at once.
        _check(lib.tsr_kernel_launch_args(self._handle, cargs, len(self.params), _stream(stream)),
               lambda: lib.tsr_kernel_error(self._handle))
        _check(lib.tsr_stream_synchronize(ctx._h(), _stream(stream)), lambda: lib.tsr_context_error(ctx._handle))
        del borrowed

    def grid(self, *args, **kwargs):
        """The program's grid (instances in x, y, z) for these arguments."""
        return self._grid(lib.tsr_kernel_grid, args, kwargs)

    def launch_grid(self, *args, **kwargs):
        """The grid a launch with these arguments runs: the program's, or for
        a kernel compiled persistent on cuda or emu (blocks, 1, 1), blocks
        the fewer of its instances and the blocks the device holds at once."""
        return self._grid(lib.tsr_kernel_launch_grid, args, kwargs)

    def _grid(self, fn, args, kwargs):
        values = self._arguments(args, kwargs)
        keep = []
        for i, p in enumerate(self.params):
            if p.is_tensor:
                b = _Borrowed(values[p.name], p.name, None)
                keep.append(b)
                _check(lib.tsr_kernel_set_tensor(self._handle, i, b.address), lambda: lib.tsr_kernel_error(self._handle))
            else:
                _check(lib.tsr_kernel_set_scalar(self._handle, i, self._scalar(p, values[p.name])),
                       lambda: lib.tsr_kernel_error(self._handle))
        g = (ctypes.c_int64 * 3)()
        _check(fn(self._handle, g), lambda: lib.tsr_kernel_error(self._handle))
        return tuple(g)

_FLAGS = {"line_info": _lib.TSR_COMPILE_LINE_INFO, "no_warp_specialize": _lib.TSR_COMPILE_NO_WARP_SPECIALIZE,
          "no_overlap": _lib.TSR_COMPILE_NO_OVERLAP, "no_pingpong": _lib.TSR_COMPILE_NO_PINGPONG,
          "persistent": _lib.TSR_COMPILE_PERSISTENT}


def _flags(options):
    flags = 0
    for name, on in options.items():
        if name not in _FLAGS:
            raise TypeError("unknown compile option %r (known: %s)" % (name, ", ".join(sorted(_FLAGS))))
        flags |= _FLAGS[name] if on else 0
    return flags

# ---------------------------------------------------------------- shortcuts


_contexts = {}
_contexts_lock = threading.Lock()


def context(device="auto"):
    """A context per device name, made on first use and shared (by threads too)."""
    with _contexts_lock:
        if device not in _contexts:
            _contexts[device] = Context(device)
        return _contexts[device]


def compile(source, defines=None, kernel=None, device="auto", target=None, name="<string>", **options):
    """Compiles DSL source on the shared context of a device (see context;
    options as Context.compile)."""
    return context(device).compile(source, defines=defines, kernel=kernel, target=target, name=name, **options)


def compile_file(path, defines=None, kernel=None, device="auto", target=None, **options):
    """Compiles a .tsr file on the shared context of a device."""
    return context(device).compile_file(path, defines=defines, kernel=kernel, target=target, **options)


def attention_forward(q, k, v, o, lse, scale=None, causal=False, device="auto", stream=None):
    """Context.attention_forward on the shared context of a device."""
    context(device).attention_forward(q, k, v, o, lse, scale=scale, causal=causal, stream=stream)


def attention_backward(q, k, v, o, lse, dout, dq, dk, dv, scale=None, causal=False, device="auto", stream=None):
    """Context.attention_backward on the shared context of a device."""
    context(device).attention_backward(q, k, v, o, lse, dout, dq, dk, dv, scale=scale, causal=causal, stream=stream)
