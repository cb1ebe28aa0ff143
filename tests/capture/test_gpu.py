"""GPU telemetry without GPU hardware: stand-ins for the vendor libraries (NVML, amdsmi) drive every code path.

The stand-ins are test doubles of the vendor Python modules only; what is checked is our selection of devices
(``CUDA_VISIBLE_DEVICES``/``ROCR_VISIBLE_DEVICES``), the keys, and that a missing GPU stays silent.
"""

from __future__ import annotations

import logging
import sys
from types import SimpleNamespace

import pytest

from capture import _gpu, _telemetry
from capture._gpu import GpuReader, visible_selection
from capture.settings import Settings

UUIDS = ["GPU-aaaa1111-0000", "GPU-bbbb2222-0000", "GPU-cccc3333-0000"]
NVIDIA_KEYS = {
    "vendor", "index", "id", "name", "used_bytes", "total_bytes", "temperature_c", "power_mw",
    "utilization_percent", "memory_utilization_percent", "sm_clock_mhz", "memory_clock_mhz",
}  # fmt: skip


class FakeNvmlError(Exception):
    pass


class FakeNvml:
    """The slice of ``pynvml`` that capture._gpu calls."""

    NVML_TEMPERATURE_GPU = 0
    NVML_CLOCK_SM = 1
    NVML_CLOCK_MEM = 2

    def __init__(self, uuids=UUIDS, init_error=None, unsupported=()):
        self.uuids = list(uuids)
        self.init_error = init_error
        self.unsupported = set(unsupported)
        self.init_calls = 0

    def nvmlInit(self):
        self.init_calls += 1
        if self.init_error:
            raise self.init_error

    def nvmlDeviceGetCount(self):
        return len(self.uuids)

    def nvmlDeviceGetHandleByIndex(self, index):
        return index

    def _maybe(self, name):
        if name in self.unsupported:
            raise FakeNvmlError("NVML_ERROR_NOT_SUPPORTED")

    def nvmlDeviceGetUUID(self, handle):
        return self.uuids[handle]

    def nvmlDeviceGetName(self, handle):
        return b"Fake H100"  # older nvidia-ml-py returns bytes

    def nvmlDeviceGetMemoryInfo(self, handle):
        return SimpleNamespace(used=1000 + handle, total=80_000, free=79_000 - handle)

    def nvmlDeviceGetTemperature(self, handle, sensor):
        assert sensor == self.NVML_TEMPERATURE_GPU
        return 40 + handle

    def nvmlDeviceGetPowerUsage(self, handle):
        self._maybe("power")
        return 70_000 + handle

    def nvmlDeviceGetUtilizationRates(self, handle):
        return SimpleNamespace(gpu=5, memory=3)

    def nvmlDeviceGetClockInfo(self, handle, clock):
        return 1980 if clock == self.NVML_CLOCK_SM else 2619


class FakeAmdsmi:
    """The slice of ``amdsmi`` that capture._gpu calls."""

    class AmdSmiMemoryType:
        VRAM = 0

    def __init__(self, uuids=("aa-01", "bb-02")):
        self.uuids = list(uuids)
        self.init_calls = 0

    def amdsmi_init(self, *flags):
        self.init_calls += 1

    def amdsmi_get_processor_handles(self):
        return [f"h{i}" for i in range(len(self.uuids))]

    def amdsmi_get_gpu_device_uuid(self, handle):
        return self.uuids[int(handle[1:])]

    def amdsmi_get_gpu_board_info(self, handle):
        return {"product_name": "Fake MI250X"}

    def amdsmi_get_gpu_memory_usage(self, handle, kind):
        assert kind == self.AmdSmiMemoryType.VRAM
        return 4096

    def amdsmi_get_gpu_activity(self, handle):
        return {"gfx_activity": 12, "umc_activity": 7, "mm_activity": "N/A"}

    def amdsmi_get_gpu_metrics_info(self, handle):
        return {
            "average_socket_power": 300, "energy_accumulator": 123456,
            "temperature_edge": "N/A", "temperature_hotspot": 55, "temperature_mem": 50,
            "temperature_vrgfx": 45, "temperature_vrmem": 44, "temperature_hbm": [48, 52, "N/A", 49],
            "current_fan_speed": 0, "current_gfxclk": 1700, "current_socclk": 1000, "current_uclk": 1600,
            "current_vclk0": 800, "current_dclk0": 700,
        }  # fmt: skip


def _devices(pairs):
    """{N: {key: value}} from ``pg:gpu_N_key`` pairs, plus the count."""
    values = dict(pairs)
    count = values.pop("pg:gpu_count")
    devices: dict[int, dict] = {}
    for name, value in values.items():
        number, _, key = name.removeprefix("pg:gpu_").partition("_")
        devices.setdefault(int(number), {})[key] = value
    assert len(devices) == count
    return devices


def test_every_nvidia_device_with_every_metric():
    nvml = FakeNvml()
    devices = _devices(GpuReader(nvml=nvml, amdsmi=False, environ={}).read())
    assert sorted(devices) == [0, 1, 2]
    for number, device in devices.items():
        assert set(device) == NVIDIA_KEYS
        assert device["index"] == number and device["id"] == UUIDS[number]
        assert device["name"] == "Fake H100" and device["vendor"] == "nvidia"
        assert device["used_bytes"] == 1000 + number and device["power_mw"] == 70_000 + number
    assert nvml.init_calls == 1


@pytest.mark.parametrize(
    ("visible", "indices"),
    [
        ("1", [1]),
        ("2,0", [2, 0]),
        ("GPU-bbbb2222-0000", [1]),
        ("GPU-cccc", [2]),  # a unique UUID prefix, as CUDA accepts
        ("0, GPU-cccc3333-0000", [0, 2]),
        ("0,7,1", [0]),  # CUDA stops at the first entry naming no device
        ("0,0", [0]),
        ("", []),
        ("-1", []),
        ("GPU-", []),  # ambiguous
    ],
)
def test_cuda_visible_devices_selects_without_disabling_nvml(visible, indices):
    nvml = FakeNvml()
    devices = _devices(GpuReader(nvml=nvml, amdsmi=False, environ={"CUDA_VISIBLE_DEVICES": visible}).read())
    assert [devices[n]["index"] for n in sorted(devices)] == indices
    assert [devices[n]["id"] for n in sorted(devices)] == [UUIDS[i] for i in indices]
    assert nvml.init_calls == 1  # NVML initialised whatever the variable says


def test_unsupported_metric_is_left_out_not_fatal():
    devices = _devices(GpuReader(nvml=FakeNvml(unsupported={"power"}), amdsmi=False, environ={}).read())
    assert all("power_mw" not in d and "used_bytes" in d for d in devices.values())


def test_no_driver_is_one_quiet_note(caplog, capfd):
    nvml = FakeNvml(init_error=FakeNvmlError("NVML Shared Library Not Found"))
    reader = GpuReader(nvml=nvml, amdsmi=False, environ={})
    with caplog.at_level(logging.DEBUG, logger="capture._gpu"):
        assert reader.read() == [("pg:gpu_count", 0)]
        assert reader.read() == [("pg:gpu_count", 0)]
        assert reader.describe() == {}
    notes = [r for r in caplog.records if r.name == "capture._gpu"]
    assert len(notes) == 1 and notes[0].levelno == logging.INFO and "no GPU telemetry" in notes[0].message
    assert nvml.init_calls == 1  # not retried per reading
    out, err = capfd.readouterr()
    assert out == "" and err == ""


def test_this_machine_without_gpu_is_silent(capfd):
    reader = GpuReader()  # the real pynvml (nvidia-ml-py) and the real /dev/kfd check
    pairs = reader.read()
    assert pairs[0][0] == "pg:gpu_count"
    if pairs == [("pg:gpu_count", 0)]:
        assert reader.note.startswith("no GPU telemetry")
    out, _ = capfd.readouterr()
    assert out == ""


def test_amd_devices_with_the_seed_metric_names():
    amd = FakeAmdsmi()
    devices = _devices(GpuReader(nvml=False, amdsmi=amd, environ={}).read())
    assert sorted(devices) == [0, 1]
    device = devices[0]
    assert device["vendor"] == "amd" and device["index"] == 0 and device["id"] == "aa-01"
    assert device["name"] == "Fake MI250X" and device["used_bytes"] == 4096
    assert device["activity_gfx_percent"] == 12 and device["activity_umc_percent"] == 7
    assert "activity_mm_percent" not in device and "temperature_edge_c" not in device  # 'N/A' left out
    assert device["power_average_socket_power_w"] == 300 and device["power_energy_accumulator"] == 123456
    assert device["temperature_hotspot_c"] == 55 and device["temperature_hbm_c"] == 52
    assert device["temperature_fan_speed"] == 0
    for clock in ("gfxclk", "socclk", "uclk", "vclk0", "dclk0"):
        assert f"others_current_{clock}_mhz" in device
    assert amd.init_calls == 1


def test_rocr_visible_devices_selects_amd_devices():
    devices = _devices(
        GpuReader(nvml=False, amdsmi=FakeAmdsmi(), environ={"ROCR_VISIBLE_DEVICES": "1"}).read()
    )
    assert [d["id"] for d in devices.values()] == ["bb-02"]
    by_uuid = GpuReader(nvml=False, amdsmi=FakeAmdsmi(), environ={"ROCR_VISIBLE_DEVICES": "GPU-aa"}).read()
    assert [d["index"] for d in _devices(by_uuid).values()] == [0]


def test_both_vendors_number_on():
    devices = _devices(GpuReader(nvml=FakeNvml(uuids=UUIDS[:1]), amdsmi=FakeAmdsmi(), environ={}).read())
    assert [devices[n]["vendor"] for n in sorted(devices)] == ["nvidia", "amd", "amd"]


def test_amd_without_rocm_is_skipped_before_import(monkeypatch):
    monkeypatch.setattr(_gpu.os.path, "exists", lambda path: False if path == "/dev/kfd" else True)
    vendor, note = GpuReader(nvml=False, environ={})._load_amd()
    assert vendor is None and "/dev/kfd" in note


def test_visible_selection_unset_selects_all():
    assert visible_selection(None, UUIDS) == [0, 1, 2]


def test_task_telemetry_carries_gpu_keys_from_the_sampler(monkeypatch):
    sampler = _telemetry._Sampler(
        0.5, gpu=GpuReader(nvml=FakeNvml(), amdsmi=False, environ={"CUDA_VISIBLE_DEVICES": "2"})
    )
    monkeypatch.setattr(_telemetry, "_sampler", sampler)
    try:
        telemetry = _telemetry.TaskTelemetry(Settings(telemetry=["gpu"]))
        for pairs in (telemetry.start(), telemetry.end()):
            devices = _devices([p for p in pairs if p[0].startswith("pg:gpu_")])
            assert list(devices) == [0] and devices[0]["index"] == 2 and set(devices[0]) == NVIDIA_KEYS
    finally:
        sampler.stop()


def test_machine_info_lists_the_gpus(monkeypatch):
    sampler = _telemetry._Sampler(0.5, gpu=GpuReader(nvml=FakeNvml(), amdsmi=False, environ={}))
    monkeypatch.setattr(_telemetry, "_sampler", sampler)
    monkeypatch.setattr(_telemetry, "_machine_cache", {})
    info = _telemetry.machine_info(Settings(telemetry=["machine", "gpu"]))
    assert info["gpu_count"] == 3 and info["gpu_2_id"] == UUIDS[2] and info["gpu_0_name"] == "Fake H100"
    without = _telemetry.machine_info(Settings(telemetry=["machine"]))
    assert [k for k in without if k.startswith("gpu_")] == ["gpu_unavailable"]  # no reading, and why
    assert "off" in without["gpu_unavailable"]


def test_no_nvidia_device_skips_the_pynvml_import(monkeypatch):
    monkeypatch.setattr(_gpu.sys, "platform", "linux")
    monkeypatch.setattr(_gpu.os.path, "exists", lambda path: False)
    monkeypatch.delitem(sys.modules, "pynvml", raising=False)
    vendor, note = GpuReader(amdsmi=False, environ={})._load_nvidia()
    assert vendor is None and "/dev/nvidiactl" in note
    assert "pynvml" not in sys.modules
