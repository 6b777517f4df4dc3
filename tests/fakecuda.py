"""A CUDA device without a GPU: fake tensors that take every CUDA branch of the library, and a
counter of what would synchronise the host with the device.

* :func:`fake_cuda` patches ``torch.cuda.is_available`` (and the device's compute capability),
  enters ``FakeTensorMode`` (tensors with shapes, dtypes and devices but no values) and returns
  ``cuda:0``. Python's tensor indexing sets a CUDA device guard, which needs a driver; while the
  mode is active it is run through the same ATen operators the C++ indexing calls (``select``,
  ``slice``, ``index``, ``index_put_``), so the semantics are unchanged.
* :class:`SyncCounter` records every operation that would make the host wait for the GPU: reading
  a value (``.item()``, ``bool()``, ``float()``, ``int()``, ``.tolist()``: ATen's
  ``_local_scalar_dense``), an output whose shape depends on the values (``nonzero``, boolean
  masks, ``unique``), and every copy between the host and the device. Values it is asked for are
  answered with 0 (``False``), so the code carries on and every such point is counted.
* :func:`fake_module` turns a real CPU module into one with fake parameters on the device.

Autograd cannot run on a fake CUDA tensor without a driver (it asks for the current CUDA stream),
so a whole training step (forward, backward, optimiser) is counted on the ``meta`` device
instead: tensors without values on a non-CPU device, which takes the same branches as CUDA in
the library (its value checks run on the CPU only); a copy from ``meta`` to the host is counted
and answered with zeros.
"""

from __future__ import annotations

import contextlib
from collections import Counter
from collections.abc import Iterator
from unittest import mock

import torch
import torch.nn as nn
from torch._subclasses.fake_tensor import FakeTensorMode
from torch.utils._python_dispatch import TorchDispatchMode

CUDA = torch.device("cuda", 0)

DATA_DEPENDENT = ("nonzero", "masked_select", "unique", "_unique2", "unique_consecutive", "unique_dim")


class SyncCounter(TorchDispatchMode):
    """Counts the host synchronisations of the operations run while it is active (see the module
    docstring); ``events`` names each one."""

    def __init__(self) -> None:
        super().__init__()
        self.events: Counter[str] = Counter()

    @property
    def total(self) -> int:
        return sum(self.events.values())

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        name = func.overloadpacket.__name__
        if name == "_local_scalar_dense":
            self.events["read a value (item/bool/float/int/tolist)"] += 1
            t = args[0]
            return False if t.dtype == torch.bool else (0.0 if t.is_floating_point() else 0)
        if name in DATA_DEPENDENT or (
            name == "index" and any(i is not None and i.dtype == torch.bool for i in args[1])
        ):
            self.events[f"data-dependent shape ({name})"] += 1
        if name in ("_to_copy", "copy_"):
            src, dst = (
                (args[1], args[0].device) if name == "copy_" else (args[0], kwargs.get("device") or args[0].device)
            )
            dst = torch.device(dst)
            if torch.is_tensor(src) and dst.type != src.device.type:
                self.events[f"copy {src.device.type} -> {dst.type}"] += 1
                if src.device.type == "meta":  # no values to copy: zeros (see the module docstring)
                    if name == "copy_":
                        return args[0].zero_()
                    return torch.zeros(src.shape, dtype=kwargs.get("dtype") or src.dtype, device=dst)
        return func(*args, **kwargs)


def _expand(t: torch.Tensor, index) -> list:
    index = list(index) if isinstance(index, tuple) else [index]
    used = sum(
        i.dim() if torch.is_tensor(i) and i.dtype == torch.bool else int(i is not None and i is not Ellipsis)
        for i in index
    )
    out = []
    for i in index:
        out.extend([slice(None)] * (t.dim() - used) if i is Ellipsis else [i])
    return out


def _basic(t: torch.Tensor, index) -> tuple[torch.Tensor, list]:
    """Apply the basic part of ``index`` (ints, slices, None) as the C++ indexing does; returns
    the view and the advanced (tensor) indices by dimension of the view."""
    out, dim, advanced = t, 0, []
    for i in _expand(t, index):
        if i is None:
            out, dim = out.unsqueeze(dim), dim + 1
        elif isinstance(i, bool):
            raise NotImplementedError("bool scalar index")
        elif isinstance(i, int):
            out = torch.ops.aten.select.int(out, dim, i)
        elif isinstance(i, slice):
            out = torch.ops.aten.slice.Tensor(out, dim, i.start, i.stop, 1 if i.step is None else i.step)
            dim += 1
        elif torch.is_tensor(i):
            advanced.append((dim, i))
            dim += i.dim() if i.dtype == torch.bool else 1
        else:
            raise NotImplementedError(f"index {i!r}")
    indices: list = [None] * (max((d for d, _ in advanced), default=-1) + 1)
    for d, i in advanced:
        indices[d] = i
    return out, indices


def _getitem(self: torch.Tensor, index) -> torch.Tensor:
    view, indices = _basic(self, index)
    return torch.ops.aten.index.Tensor(view, indices) if indices else view


def _setitem(self: torch.Tensor, index, value) -> None:
    view, indices = _basic(self, index)
    if indices:
        value = value if torch.is_tensor(value) else torch.tensor(value, dtype=view.dtype, device=view.device)
        torch.ops.aten.index_put_(view, indices, value)
    elif torch.is_tensor(value):
        torch.ops.aten.copy_.default(view, value)
    else:
        torch.ops.aten.fill_.Scalar(view, value)


def _contiguous(self: torch.Tensor, memory_format: torch.memory_format = torch.contiguous_format) -> torch.Tensor:
    if self.is_contiguous(memory_format=memory_format):
        return self
    return torch.ops.aten.clone.default(self, memory_format=memory_format)


# Python bindings that set a CUDA device guard themselves (found by trying each method the library
# uses on a fake CUDA tensor), run through the ATen operator they call
_GUARDED = {
    "__getitem__": _getitem,
    "__setitem__": _setitem,
    "__invert__": lambda self: torch.ops.aten.bitwise_not.default(self),
    "copy_": lambda self, src, non_blocking=False: torch.ops.aten.copy_.default(self, src, non_blocking),
    "contiguous": _contiguous,
}


@contextlib.contextmanager
def fake_cuda(capability: tuple[int, int] = (7, 5)) -> Iterator[FakeTensorMode]:
    """A fake CUDA GPU of compute ``capability`` ((7, 5): Colab's T4, fp16; (9, 0): H100, bf16).

    Yields the ``FakeTensorMode``; create tensors on :data:`CUDA` inside it (``.to(CUDA)`` of a
    fake CPU tensor, or :func:`fake_module`). Pinning host memory is a no-op here (it needs a
    driver; it changes no value and synchronises nothing).
    """
    with contextlib.ExitStack() as stack:
        stack.enter_context(mock.patch("torch.cuda.is_available", return_value=True))
        stack.enter_context(mock.patch("torch.cuda.get_device_capability", return_value=capability))
        stack.enter_context(mock.patch("torch.cuda.is_bf16_supported", return_value=capability >= (8, 0)))
        stack.enter_context(mock.patch("torch.Tensor.pin_memory", lambda self, *a, **k: self))
        for name, replacement in _GUARDED.items():
            stack.enter_context(mock.patch.object(torch.Tensor, name, replacement))
        yield stack.enter_context(FakeTensorMode(allow_non_fake_inputs=True))


def fake_module(module: nn.Module, mode: FakeTensorMode, device: torch.device = CUDA) -> nn.Module:
    """Replace ``module``'s parameters and buffers (real, on the CPU) by fake ones on ``device``,
    in place (``module.to`` cannot swap fake tensors in); returns ``module``."""
    for m in module.modules():
        for name, p in list(m._parameters.items()):
            if p is not None:
                m._parameters[name] = nn.Parameter(
                    mode.from_tensor(p.detach()).to(device), requires_grad=p.requires_grad
                )
        for name, b in list(m._buffers.items()):
            if b is not None:
                m._buffers[name] = mode.from_tensor(b).to(device)
    return module


def fake(mode: FakeTensorMode, t: torch.Tensor, device: torch.device = CUDA) -> torch.Tensor:
    """A fake copy of the real tensor ``t`` on ``device``."""
    return mode.from_tensor(t).to(device)
