"""Writes the data.pkl streams of torch.save for a small state dict with CPython's own pickler.

torch is not needed: stand-in classes carry torch's module and qualified names, and
Tensor.__reduce_ex__ and torch.save's persistent_id are reproduced as torch 2.x defines them.
TorchWriterTest compares TorchWriter's output with these files byte for byte.

    python3 make_cpython_pickles.py   # writes cpython-p2.pkl and cpython-p4.pkl here
"""
import collections
import os
import pickle
import sys
import types

torch = types.ModuleType("torch")
utils = types.ModuleType("torch._utils")
sys.modules["torch"] = torch
sys.modules["torch._utils"] = utils


def _rebuild_tensor_v2(storage, storage_offset, size, stride, requires_grad, backward_hooks, metadata=None):
    raise AssertionError("never called")


_rebuild_tensor_v2.__module__ = "torch._utils"
utils._rebuild_tensor_v2 = _rebuild_tensor_v2

for name in ["FloatStorage", "HalfStorage", "BFloat16Storage", "LongStorage"]:
    cls = type(name, (), {})
    cls.__module__ = "torch"
    setattr(torch, name, cls)


class Storage:
    def __init__(self, cls, numel):
        self.cls = cls
        self.numel = numel


class Tensor:
    def __init__(self, storage, offset, size, stride):
        self.storage, self.offset, self.size, self.stride = storage, offset, size, stride

    def __reduce_ex__(self, proto):
        # torch/_tensor.py _reduce_ex_internal for a plain CPU tensor
        backward_hooks = collections.OrderedDict()
        # torch.Size and stride() give new tuples on every call, so nothing is shared in the memo
        args = (self.storage, self.offset, tuple(list(self.size)), tuple(list(self.stride)), False, backward_hooks)
        return (_rebuild_tensor_v2, args)


def dumps(obj, protocol):
    id_map = {}

    class TorchPickler(pickle.Pickler):
        def persistent_id(self, obj):
            # torch/serialization.py _save: ('storage', storage_type, key, location, numel)
            if isinstance(obj, Storage):
                key = id_map.setdefault(id(obj), str(len(id_map)))
                return ("storage", obj.cls, key, "cpu", obj.numel)
            return None

    import io
    buf = io.BytesIO()
    TorchPickler(buf, protocol=protocol).dump(obj)
    return buf.getvalue()


def state_dict():
    f32 = Storage(torch.FloatStorage, 6)
    f16 = Storage(torch.HalfStorage, 12)
    bf16 = Storage(torch.BFloat16Storage, 40)
    i64 = Storage(torch.LongStorage, 5)
    big = Storage(torch.FloatStorage, 20)
    sd = collections.OrderedDict()
    sd["model.w32"] = Tensor(f32, 0, (2, 3), (3, 1))
    sd["model.w16"] = Tensor(f16, 0, (3, 4), (4, 1))
    sd["model.wbf16"] = Tensor(bf16, 0, (2, 4, 5), (20, 5, 1))
    sd["model.ids"] = Tensor(i64, 0, (5,), (1,))
    sd["model.tied"] = Tensor(f32, 0, (2, 3), (3, 1))
    sd["model.offset_view"] = Tensor(big, 7, (3, 4), (4, 1))
    sd["model.deep"] = Tensor(bf16, 0, (1, 2, 4, 5), (40, 20, 5, 1))
    sd._metadata = collections.OrderedDict([("", {"version": 1})])
    return sd


here = os.path.dirname(os.path.abspath(__file__))
for p in (2, 4):
    with open(os.path.join(here, "cpython-p%d.pkl" % p), "wb") as f:
        f.write(dumps(state_dict(), p))
