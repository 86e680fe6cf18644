"""The C API of libtessera (include/tessera.h) through ctypes: the library,
the structs the calls take, and the prototypes. Nothing here is public; the
package's modules wrap it."""

import ctypes
import ctypes.util
import os

# ---------------------------------------------------------------- DLPack

class DLDevice(ctypes.Structure):
    _fields_ = [("device_type", ctypes.c_int32), ("device_id", ctypes.c_int32)]


class DLDataType(ctypes.Structure):
    _fields_ = [("code", ctypes.c_uint8), ("bits", ctypes.c_uint8), ("lanes", ctypes.c_uint16)]


class DLTensor(ctypes.Structure):
    _fields_ = [
        ("data", ctypes.c_void_p),
        ("device", DLDevice),
        ("ndim", ctypes.c_int32),
        ("dtype", DLDataType),
        ("shape", ctypes.POINTER(ctypes.c_int64)),
        ("strides", ctypes.POINTER(ctypes.c_int64)),
        ("byte_offset", ctypes.c_uint64),
    ]


class DLManagedTensor(ctypes.Structure):
    _fields_ = [("dl_tensor", DLTensor), ("manager_ctx", ctypes.c_void_p), ("deleter", ctypes.c_void_p)]


class DLPackVersion(ctypes.Structure):
    _fields_ = [("major", ctypes.c_uint32), ("minor", ctypes.c_uint32)]


class DLManagedTensorVersioned(ctypes.Structure):
    _fields_ = [
        ("version", DLPackVersion),
        ("manager_ctx", ctypes.c_void_p),
        ("deleter", ctypes.c_void_p),
        ("flags", ctypes.c_uint64),
        ("dl_tensor", DLTensor),
    ]


DLPACK_FLAG_READ_ONLY = 1
KDL_CPU, KDL_CUDA, KDL_CUDA_HOST, KDL_CUDA_MANAGED = 1, 2, 3, 13

# ---------------------------------------------------------------- tessera.h

TSR_MAX_RANK = 4
DEVICE_KINDS = {"auto": 0, "cuda": 1, "emu": 2, "interp": 3}
TSR_EMU_CHECK_RACES, TSR_EMU_CHECK_UNINIT = 1, 2
TSR_IR_TIR, TSR_IR_LLVM, TSR_IR_PTX = 1, 2, 4
# tsr_compile_options.flags (include/tessera.h)
TSR_COMPILE_LINE_INFO, TSR_COMPILE_NO_WARP_SPECIALIZE, TSR_COMPILE_NO_OVERLAP = 1, 2, 4
TSR_COMPILE_NO_PINGPONG, TSR_COMPILE_PERSISTENT = 8, 16


class ContextOptions(ctypes.Structure):
    _fields_ = [
        ("struct_size", ctypes.c_size_t),
        ("device", ctypes.c_int),
        ("device_ordinal", ctypes.c_int),
        ("allocator", ctypes.c_void_p),
        ("cache", ctypes.c_int),
        ("cache_dir", ctypes.c_char_p),
        ("host_threads", ctypes.c_int),
        ("flags", ctypes.c_uint),
        ("target", ctypes.c_char_p),
    ]


class Define(ctypes.Structure):
    _fields_ = [("name", ctypes.c_char_p), ("value", ctypes.c_char_p)]


class CompileOptions(ctypes.Structure):
    _fields_ = [
        ("struct_size", ctypes.c_size_t),
        ("target", ctypes.c_char_p),
        ("defines", ctypes.POINTER(Define)),
        ("ndefines", ctypes.c_int),
        ("kernel", ctypes.c_char_p),
        ("source_name", ctypes.c_char_p),
        ("keep_ir", ctypes.c_uint),
        ("flags", ctypes.c_uint),
    ]


class ParamInfo(ctypes.Structure):
    _fields_ = [
        ("name", ctypes.c_char_p),
        ("is_tensor", ctypes.c_int),
        ("is_output", ctypes.c_int),
        ("dtype", DLDataType),
        ("ndim", ctypes.c_int),
        ("dim_names", ctypes.c_char_p * TSR_MAX_RANK),
        ("dim_values", ctypes.c_int64 * TSR_MAX_RANK),
    ]


class Arg(ctypes.Structure):
    """tsr_arg: one argument of tsr_kernel_launch_args."""
    _fields_ = [("tensor", ctypes.c_void_p), ("scalar", ctypes.c_double)]


def _candidates():
    """Where libtessera is looked for, in order."""
    env = os.environ.get("TESSERA_LIBRARY")
    if env:
        yield env
        return
    # A checkout of the repository: python/tessera/ -> build/libtessera.so
    here = os.path.dirname(os.path.abspath(__file__))
    yield os.path.join(here, "..", "..", "build", "libtessera.so")
    found = ctypes.util.find_library("tessera")
    if found:
        yield found
    for prefix in (os.path.expanduser("~/.local"), "/usr/local", "/usr"):
        yield os.path.join(prefix, "lib", "libtessera.so")


def _load():
    tried = []
    for path in _candidates():
        if os.path.sep in path and not os.path.exists(path):
            tried.append(path + " (absent)")
            continue
        try:
            return ctypes.CDLL(path)
        except OSError as e:
            tried.append("%s (%s)" % (path, e))
    raise ImportError(
        "tessera: cannot load libtessera; build it (make) or install it (make install), or set "
        "TESSERA_LIBRARY to its path. Tried: " + "; ".join(tried))


lib = _load()

_c = ctypes
_PROTOTYPES = {
    "tsr_version": (_c.c_char_p, []),
    "tsr_status_name": (_c.c_char_p, [_c.c_int]),
    "tsr_context_options_init": (None, [_c.POINTER(ContextOptions)]),
    "tsr_context_create": (_c.c_int, [_c.POINTER(ContextOptions), _c.POINTER(_c.c_void_p)]),
    "tsr_context_destroy": (None, [_c.c_void_p]),
    "tsr_context_error": (_c.c_char_p, [_c.c_void_p]),
    "tsr_context_device_kind": (_c.c_int, [_c.c_void_p]),
    "tsr_context_device_name": (_c.c_char_p, [_c.c_void_p]),
    "tsr_context_dl_device": (DLDevice, [_c.c_void_p]),
    "tsr_context_default_target": (_c.c_char_p, [_c.c_void_p]),
    "tsr_module_compile": (_c.c_int, [_c.c_void_p, _c.c_char_p, _c.c_size_t, _c.POINTER(CompileOptions),
                                      _c.POINTER(_c.c_void_p)]),
    "tsr_module_compile_file": (_c.c_int, [_c.c_void_p, _c.c_char_p, _c.POINTER(CompileOptions),
                                           _c.POINTER(_c.c_void_p)]),
    "tsr_module_destroy": (None, [_c.c_void_p]),
    "tsr_module_error": (_c.c_char_p, [_c.c_void_p]),
    "tsr_module_kernel_count": (_c.c_int, [_c.c_void_p]),
    "tsr_module_kernel_name": (_c.c_char_p, [_c.c_void_p, _c.c_int]),
    "tsr_module_get_kernel": (_c.c_int, [_c.c_void_p, _c.c_char_p, _c.POINTER(_c.c_void_p)]),
    "tsr_module_ir": (_c.c_char_p, [_c.c_void_p, _c.c_char_p, _c.c_int]),
    "tsr_kernel_name": (_c.c_char_p, [_c.c_void_p]),
    "tsr_kernel_error": (_c.c_char_p, [_c.c_void_p]),
    "tsr_kernel_param_count": (_c.c_int, [_c.c_void_p]),
    "tsr_kernel_param_info": (_c.c_int, [_c.c_void_p, _c.c_int, _c.POINTER(ParamInfo)]),
    "tsr_kernel_set_tensor": (_c.c_int, [_c.c_void_p, _c.c_int, _c.c_void_p]),
    "tsr_kernel_set_scalar": (_c.c_int, [_c.c_void_p, _c.c_int, _c.c_double]),
    "tsr_kernel_grid": (_c.c_int, [_c.c_void_p, _c.c_int64 * 3]),
    "tsr_kernel_launch_grid": (_c.c_int, [_c.c_void_p, _c.c_int64 * 3]),
    "tsr_kernel_launch": (_c.c_int, [_c.c_void_p, _c.c_void_p]),
    "tsr_kernel_launch_args": (_c.c_int, [_c.c_void_p, _c.POINTER(Arg), _c.c_int, _c.c_void_p]),
    "tsr_stream_synchronize": (_c.c_int, [_c.c_void_p, _c.c_void_p]),
    "tsr_stream_create": (_c.c_int, [_c.c_void_p, _c.POINTER(_c.c_void_p)]),
    "tsr_stream_destroy": (_c.c_int, [_c.c_void_p, _c.c_void_p]),
    "tsr_malloc": (_c.c_int, [_c.c_void_p, _c.c_size_t, _c.POINTER(_c.c_void_p)]),
    "tsr_free": (_c.c_int, [_c.c_void_p, _c.c_void_p]),
    "tsr_memcpy": (_c.c_int, [_c.c_void_p, _c.c_void_p, _c.c_void_p, _c.c_size_t, _c.c_int, _c.c_void_p]),
    "tsr_attention_forward": (_c.c_int, [_c.c_void_p, _c.c_void_p, _c.c_void_p, _c.c_void_p, _c.c_void_p,
                                         _c.c_void_p, _c.c_float, _c.c_int, _c.c_void_p]),
    "tsr_attention_backward": (_c.c_int, [_c.c_void_p] + [_c.c_void_p] * 9 + [_c.c_float, _c.c_int, _c.c_void_p]),
}
for _name, (_res, _args) in _PROTOTYPES.items():
    _f = getattr(lib, _name)
    _f.restype = _res
    _f.argtypes = _args

# PyCapsule access for DLPack (the capsule is kept, and so owned, by Python).
_capsule_get = ctypes.pythonapi.PyCapsule_GetPointer
_capsule_get.restype = ctypes.c_void_p
_capsule_get.argtypes = [ctypes.py_object, ctypes.c_char_p]
_capsule_is_valid = ctypes.pythonapi.PyCapsule_IsValid
_capsule_is_valid.restype = ctypes.c_int
_capsule_is_valid.argtypes = [ctypes.py_object, ctypes.c_char_p]


def text(b):
    return b.decode("utf-8", "replace") if b is not None else ""
