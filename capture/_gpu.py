"""GPU readings for telemetry: NVIDIA through NVML (`pynvml` from `nvidia-ml-py`), AMD through ROCm's `amdsmi`.

Vendor libraries load lazily, once per process, and only when GPU telemetry is on. Which devices are reported
follows ``CUDA_VISIBLE_DEVICES`` (NVIDIA: indices or ``GPU-...`` UUIDs, as CUDA reads them) and
``ROCR_VISIBLE_DEVICES`` (AMD), but the vendor library is always initialised and asked about every device, so setting
those variables never loses GPU data. No GPU, no driver or no library: one log note (INFO), no exception, nothing on
stdout.

Keys per reported device ``N`` (``N`` counts the visible devices, so ``gpu_0`` is what CUDA calls device 0):
``gpu_N_vendor``, ``gpu_N_index`` (the vendor library's own index), ``gpu_N_name``, ``gpu_N_id`` (UUID), ``gpu_N_used_bytes``
and the vendor's metrics below; see docs/telemetry.md.

Example::

    from capture._gpu import GpuReader

    reader = GpuReader()            # nothing loaded yet
    pairs = reader.read()           # [("pg:gpu_count", 1), ("pg:gpu_0_used_bytes", 123), ...]
"""

from __future__ import annotations

import logging
import math
import os
import sys
import threading
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from capture._lazy import guard

__all__ = ["GpuReader", "visible_selection"]

logger = logging.getLogger(__name__)

_AMD_TEMPERATURES = ("edge", "hotspot", "mem", "vrgfx", "vrmem", "hbm")
_AMD_CLOCKS = ("gfxclk", "socclk", "uclk", "vclk0", "dclk0")


def visible_selection(variable: str | None, ids: Sequence[str]) -> list[int]:
    """Which of the vendor library's devices a ``*_VISIBLE_DEVICES`` value selects, in the order it names them.

    Args:
        variable: the variable's value; ``None`` (unset) selects every device.
        ids: each device's UUID, in the vendor library's index order.

    Returns:
        Vendor indices. As the CUDA runtime does, reading stops at the first entry that names no device (an index
        out of range, an unknown or ambiguous UUID prefix, a repeat), so ``""`` and ``"-1"`` select nothing.
    """
    if variable is None:
        return list(range(len(ids)))
    chosen: list[int] = []
    for raw in variable.split(","):
        token = raw.strip()
        index = _device_index(token, ids)
        if index is None or index in chosen:
            break
        chosen.append(index)
    return chosen


def _device_index(token: str, ids: Sequence[str]) -> int | None:
    if not token:
        return None
    if token.lstrip("+").isdigit():
        index = int(token)
        return index if index < len(ids) else None
    if token.startswith("-"):
        return None
    wanted = _bare_uuid(token)
    if not wanted:
        return None
    matches = [i for i, uuid in enumerate(ids) if _bare_uuid(uuid).startswith(wanted)]
    return matches[0] if len(matches) == 1 else None


def _bare_uuid(text: str) -> str:
    text = text.strip().lower()
    for prefix in ("gpu-", "mig-"):
        if text.startswith(prefix):
            text = text[len(prefix) :]
    return text


def _number(value: Any) -> int | float | None:
    """A finite JSON number, or ``None`` for vendors' 'N/A' strings, NaN and the like."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float) and math.isfinite(value):
        return value
    return None


def _text(value: Any) -> str:
    return value.decode(errors="replace") if isinstance(value, bytes) else str(value)


class _Nvidia:
    """NVML devices selected by ``CUDA_VISIBLE_DEVICES``; static facts read once, metrics on each `read`."""

    vendor = "nvidia"

    def __init__(self, nvml: Any, environ: Mapping[str, str]) -> None:
        self.nvml = nvml
        count = nvml.nvmlDeviceGetCount()
        handles = [nvml.nvmlDeviceGetHandleByIndex(i) for i in range(count)]
        uuids = [_text(nvml.nvmlDeviceGetUUID(h)) for h in handles]
        chosen = visible_selection(environ.get("CUDA_VISIBLE_DEVICES"), uuids)
        self.devices: list[tuple[int, Any, list[tuple[str, Any]]]] = []
        for index in chosen:
            handle = handles[index]
            static: list[tuple[str, Any]] = [("vendor", "nvidia"), ("index", index), ("id", uuids[index])]
            name = self._call(nvml.nvmlDeviceGetName, handle)
            if name is not None:
                static.append(("name", _text(name)))
            self.devices.append((index, handle, static))

    @staticmethod
    def _call(function: Callable[..., Any] | None, *args: Any) -> Any:
        if function is None:
            return None
        try:
            return function(*args)
        except Exception:  # noqa: BLE001 - NVMLError_NotSupported and friends: leave the key out
            return None

    def metrics(self, handle: Any) -> list[tuple[str, Any]]:
        nvml, call = self.nvml, self._call
        out: list[tuple[str, Any]] = []
        memory = call(nvml.nvmlDeviceGetMemoryInfo, handle)
        if memory is not None:
            out += [("used_bytes", int(memory.used)), ("total_bytes", int(memory.total))]
        temperature = call(nvml.nvmlDeviceGetTemperature, handle, getattr(nvml, "NVML_TEMPERATURE_GPU", 0))
        if _number(temperature) is not None:
            out.append(("temperature_c", temperature))
        power = call(nvml.nvmlDeviceGetPowerUsage, handle)
        if _number(power) is not None:
            out.append(("power_mw", power))
        rates = call(nvml.nvmlDeviceGetUtilizationRates, handle)
        if rates is not None:
            out += [
                ("utilization_percent", int(rates.gpu)),
                ("memory_utilization_percent", int(rates.memory)),
            ]
        for key, clock in (("sm_clock_mhz", "NVML_CLOCK_SM"), ("memory_clock_mhz", "NVML_CLOCK_MEM")):
            if hasattr(nvml, clock):
                value = call(nvml.nvmlDeviceGetClockInfo, handle, getattr(nvml, clock))
                if _number(value) is not None:
                    out.append((key, value))
        return out


class _Amd:
    """amdsmi processors selected by ``ROCR_VISIBLE_DEVICES``; the seed's metric names."""

    vendor = "amd"

    def __init__(self, amdsmi: Any, environ: Mapping[str, str]) -> None:
        self.amdsmi = amdsmi
        handles = list(amdsmi.amdsmi_get_processor_handles())
        uuids = [_text(self._call(amdsmi.amdsmi_get_gpu_device_uuid, h) or "") for h in handles]
        chosen = visible_selection(environ.get("ROCR_VISIBLE_DEVICES"), uuids)
        self.vram = getattr(getattr(amdsmi, "AmdSmiMemoryType", None), "VRAM", 0)
        self.devices = []
        for index in chosen:
            static: list[tuple[str, Any]] = [("vendor", "amd"), ("index", index), ("id", uuids[index])]
            board = self._call(getattr(amdsmi, "amdsmi_get_gpu_board_info", None), handles[index])
            if isinstance(board, Mapping) and board.get("product_name"):
                static.append(("name", _text(board["product_name"])))
            self.devices.append((index, handles[index], static))

    _call = staticmethod(_Nvidia._call)

    def metrics(self, handle: Any) -> list[tuple[str, Any]]:
        amdsmi, call = self.amdsmi, self._call
        out: list[tuple[str, Any]] = []
        used = _number(call(amdsmi.amdsmi_get_gpu_memory_usage, handle, self.vram))
        if used is not None:
            out.append(("used_bytes", used))
        activity = call(amdsmi.amdsmi_get_gpu_activity, handle)
        if isinstance(activity, Mapping):
            for engine in ("gfx", "umc", "mm"):
                value = _number(activity.get(f"{engine}_activity"))
                if value is not None:
                    out.append((f"activity_{engine}_percent", value))
        info = call(amdsmi.amdsmi_get_gpu_metrics_info, handle)
        if isinstance(info, Mapping):
            for key, name in (
                ("average_socket_power", "power_average_socket_power_w"),
                ("energy_accumulator", "power_energy_accumulator"),
            ):
                value = _number(info.get(key))
                if value is not None:
                    out.append((name, value))
            for sensor in _AMD_TEMPERATURES:
                raw = info.get(f"temperature_{sensor}")
                if isinstance(raw, list | tuple):  # HBM: one reading per stack; the hottest one
                    readings = [v for v in map(_number, raw) if v is not None]
                    raw = max(readings) if readings else None
                value = _number(raw)
                if value is not None:
                    out.append((f"temperature_{sensor}_c", value))
            fan = _number(info.get("current_fan_speed"))
            if fan is not None:
                out.append(("temperature_fan_speed", fan))
            for clock in _AMD_CLOCKS:
                value = _number(info.get(f"current_{clock}"))
                if value is not None:
                    out.append((f"others_current_{clock}_mhz", value))
        return out


class GpuReader:
    """Reads every visible GPU; loads the vendor libraries on the first `read` (or `describe`), never raising.

    Args:
        nvml: an NVML module to use instead of importing ``pynvml`` (tests pass a stand-in); ``False``: no NVIDIA.
        amdsmi: an amdsmi module to use instead of importing ``amdsmi``; ``False``: no AMD.
        environ: the environment to read ``*_VISIBLE_DEVICES`` from (default ``os.environ``).
    """

    def __init__(
        self, nvml: Any = None, amdsmi: Any = None, environ: Mapping[str, str] | None = None
    ) -> None:
        self._nvml_module = nvml
        self._amdsmi_module = amdsmi
        self._environ = os.environ if environ is None else environ
        self._vendors: list[Any] | None = None
        self._lock = threading.Lock()
        self.note = ""

    def _load(self) -> list[Any]:
        if self._vendors is not None:
            return self._vendors
        with self._lock:
            if self._vendors is None:
                vendors, notes = [], []
                for loader in (self._load_nvidia, self._load_amd):
                    vendor, note = loader()
                    if vendor is not None and vendor.devices:
                        vendors.append(vendor)
                    elif note:
                        notes.append(note)
                if not vendors:
                    self.note = "no GPU telemetry: " + "; ".join(notes or ["no GPU found"])
                    logger.info("%s", self.note)
                else:
                    summary = ", ".join(f"{len(v.devices)} {v.vendor}" for v in vendors)
                    logger.debug("GPU telemetry: %s device(s) visible", summary)
                self._vendors = vendors
        return self._vendors

    def _load_nvidia(self) -> tuple[Any, str]:
        nvml: Any = self._nvml_module
        if nvml is False:
            return None, ""
        if nvml is None and sys.platform.startswith("linux") and not _nvidia_device_present():
            return None, "no NVIDIA driver (/dev/nvidiactl)"
        try:
            if nvml is None:
                with guard():  # fork-safe: never half-imported in a child (capture._lazy)
                    import pynvml  # type: ignore[import-untyped, import-not-found, unused-ignore]  # only for GPU telemetry

                nvml = pynvml
            nvml.nvmlInit()
            return _Nvidia(nvml, self._environ), "no NVIDIA device visible"
        except ImportError:
            return None, "pynvml (nvidia-ml-py) not installed"
        except Exception as exc:  # noqa: BLE001 - NVMLError_LibraryNotFound/DriverNotLoaded: no NVIDIA GPU here
            return None, f"NVIDIA: {type(exc).__name__}"

    def _load_amd(self) -> tuple[Any, str]:
        amdsmi: Any = self._amdsmi_module
        if amdsmi is False:
            return None, ""
        if amdsmi is None:
            if not os.path.exists("/dev/kfd"):
                return None, "no AMD driver (/dev/kfd)"
            if not _amd_library_present():
                return None, "ROCm's libamd_smi not found"
            import contextlib
            import io

            try:
                # Without a usable ROCm, importing amdsmi prints to stdout and raises KeyError.
                with guard(), contextlib.redirect_stdout(io.StringIO()):  # fork-safe (capture._lazy)
                    import amdsmi as amd_module  # type: ignore[import-not-found]
                amdsmi = amd_module
            except Exception as exc:  # noqa: BLE001
                return None, f"amdsmi unusable ({type(exc).__name__})"
        try:
            flags = getattr(getattr(amdsmi, "AmdSmiInitFlags", None), "INIT_AMD_GPUS", None)
            amdsmi.amdsmi_init() if flags is None else amdsmi.amdsmi_init(flags)
            return _Amd(amdsmi, self._environ), "no AMD device visible"
        except Exception as exc:  # noqa: BLE001
            return None, f"AMD: {type(exc).__name__}"

    def read(self) -> list[tuple[str, Any]]:
        """``pg:gpu_count`` and every visible device's readings as ``pg:gpu_N_*`` attribute pairs."""
        pairs: list[tuple[str, Any]] = []
        number = 0
        for vendor in self._load():
            for _index, handle, static in vendor.devices:
                prefix = f"pg:gpu_{number}_"
                pairs += [(prefix + key, value) for key, value in static]
                pairs += [(prefix + key, value) for key, value in vendor.metrics(handle)]
                number += 1
        pairs.insert(0, ("pg:gpu_count", number))
        return pairs

    def describe(self) -> dict[str, dict[str, Any]]:
        """Every visible device's readings, nested: ``{"gpu_0": {"vendor": ..., "used_bytes": ...}, ...}``."""
        devices: dict[str, dict[str, Any]] = {}
        number = 0
        for vendor in self._load():
            for _index, handle, static in vendor.devices:
                devices[f"gpu_{number}"] = dict(static) | dict(vendor.metrics(handle))
                number += 1
        return devices


def _nvidia_device_present() -> bool:
    """Linux: the NVIDIA driver's control device (or WSL's GPU bridge); without it NVML cannot work, and the
    ~10 ms import of pynvml is skipped."""
    return os.path.exists("/dev/nvidiactl") or os.path.exists("/dev/dxg")


def _amd_library_present() -> bool:
    import ctypes.util
    import glob

    if ctypes.util.find_library("amd_smi"):
        return True
    roots = [os.environ.get("ROCM_PATH", ""), "/opt/rocm", *glob.glob("/opt/rocm-*")]
    return any(glob.glob(os.path.join(root, "lib*", "libamd_smi.so*")) for root in roots if root)
