"""Telemetry: CPU, process, memory, disk, network and GPU readings at task boundaries, and the machine snapshot.

Designed around what each reading costs (docs/telemetry.md has the measurements):

- Per task, on the caller's thread, only what is truly per task and cheap: the process's CPU times, memory,
  I/O counters, threads and context switches (Linux: ``pread`` on ``/proc/self/{stat,statm,io}`` kept open, plus
  one ``getrusage``; elsewhere psutil's ``oneshot``).
- Everything system-wide or expensive (CPU times and percent per CPU, frequency, memory and swap, disk usage and
  I/O per disk, network per interface, the process's descriptors, open files and connections, GPUs) comes from a
  background sampler thread (daemon, started on first use, every ``telemetry_interval_ms``; it stops after a minute
  unused and at exit). A task records the latest sample at its start and at its end; ``pg:sample_age_ms`` says how
  old it was.
- The machine snapshot (`machine_info`) is taken once per process: the CPU description comes from
  ``/proc/cpuinfo`` (0.13 ms), never from py-cpuinfo's 1.3 s probe on the workflow's path.

Every value is a JSON scalar, so it is a property on the graph node as is; a table (per CPU, per disk, per
interface, environment) is JSON text. psutil is imported on first use, never by ``import capture``.

Example::

    from capture._telemetry import TaskTelemetry
    from capture.settings import Settings

    telemetry = TaskTelemetry(Settings(telemetry=["cpu", "process"]))
    start = telemetry.start()       # [("pg:process_rss_bytes", 31457280), ("pg:cpu_percent", 12.5), ...]
    ...                             # the task runs
    end = telemetry.end()
"""

from __future__ import annotations

import atexit
import getpass
import hashlib
import json
import logging
import os
import platform
import resource
import socket
import sys
import threading
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

from capture import _context, _redaction
from capture._gpu import GpuReader
from capture._lazy import guard
from capture._redaction import Redactor

__all__ = [
    "TELEMETRY_TYPES",
    "TaskTelemetry",
    "machine_id",
    "machine_info",
    "new_task_telemetry",
    "process_facts",
    "start_sampler",
    "telemetry_phase",
    "telemetry_snapshot",
]

logger = logging.getLogger(__name__)

TELEMETRY_TYPES = ("cpu", "process", "memory", "disk", "network", "gpu", "machine")
"""Every telemetry type `Settings.telemetry` may list."""


# Types read by the sampler (system-wide or expensive); "process" is split: cheap parts per task, the rest sampled.
_SAMPLED = ("cpu", "process", "memory", "disk", "network", "gpu")
_DEFAULT_INTERVAL_S = 0.5
_IDLE_STOP_S = 60.0  # the sampler thread ends after this long without a task; the next task restarts it
_SLOW_EVERY = 10  # open files and connections (1-26 ms each) are read every tenth sample only

_CLOCK_TICKS = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100
_PAGE_BYTES = os.sysconf("SC_PAGE_SIZE") if hasattr(os, "sysconf") else 4096
_LINUX = sys.platform.startswith("linux")


def _json(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"), sort_keys=True, default=str)


def _finite(value: Any) -> Any:
    """Floats rounded to 3 decimals (µs/ms precision is noise here); NaN and infinities become ``None``."""
    if isinstance(value, float):
        return round(value, 3) if value == value and value not in (float("inf"), float("-inf")) else None
    return value


def _pairs(prefix: str, named: Any, units: Mapping[str, str] | None = None) -> list[tuple[str, Any]]:
    """``pg:<prefix>_<field><unit>`` pairs from a psutil named tuple (``None`` fields left out)."""
    units = units or {}
    out = []
    for field, value in (named._asdict() if hasattr(named, "_asdict") else named).items():
        value = _finite(value)
        if value is not None:
            out.append((f"pg:{prefix}_{field}{units.get(field, '')}", value))
    return out


def _bytes_pairs(prefix: str, named: Any) -> list[tuple[str, Any]]:
    """Like `_pairs` for a psutil tuple of byte counts (and a ``percent``)."""
    fields = named._fields if hasattr(named, "_fields") else named
    return _pairs(prefix, named, {f: "_bytes" for f in fields if f != "percent"})


def _table(named_by_key: Mapping[str, Any], activity: Sequence[str]) -> str:
    """A per-device table as JSON text; devices whose ``activity`` counters are all zero (unused loop devices,
    idle interfaces) are left out, which keeps each telemetry node small."""
    return _json(
        {
            key: {k: _finite(v) for k, v in nt._asdict().items()}
            for key, nt in sorted(named_by_key.items())
            if any(getattr(nt, field, 0) for field in activity)
        }
    )


# --- settings -> plan -------------------------------------------------------------------------------------------


class _Plan:
    """What one settings object asks for, worked out once (TaskTelemetry is built per task)."""

    __slots__ = ("redactor", "interval_s", "process", "sampled", "types")

    def __init__(self, settings: Any) -> None:
        wanted = [str(t).strip().lower() for t in getattr(settings, "telemetry", TELEMETRY_TYPES)]
        unknown = sorted(set(wanted) - set(TELEMETRY_TYPES))
        if unknown:
            logger.warning(
                "unknown telemetry type(s) %s ignored; known: %s", unknown, ", ".join(TELEMETRY_TYPES)
            )
        self.types = frozenset(t for t in wanted if t in TELEMETRY_TYPES)
        self.process = "process" in self.types
        self.sampled = tuple(t for t in _SAMPLED if t in self.types)
        interval_ms = getattr(settings, "telemetry_interval_ms", None)
        self.interval_s = interval_ms / 1000 if interval_ms and interval_ms > 0 else _DEFAULT_INTERVAL_S
        self.redactor = _redaction.active(settings)


_last_plan: tuple[Any, _Plan] | None = None


def _plan(settings: Any) -> _Plan:
    global _last_plan
    cached = _last_plan
    if cached is not None and cached[0] is settings:
        return cached[1]
    plan = _Plan(settings)
    _last_plan = (settings, plan)
    return plan


def _default_settings() -> Any:
    return _context.settings()


# --- per-task process readings ----------------------------------------------------------------------------------


class _ProcFiles:
    """``/proc/self/{stat,statm,io}`` held open and read with ``pread`` (a few µs each instead of ~30-80 µs)."""

    def __init__(self) -> None:
        self.pid = os.getpid()
        self.fds: dict[str, int | None] = {}
        for name in ("stat", "statm", "io"):
            try:
                self.fds[name] = os.open(
                    f"/proc/{self.pid}/{name}", os.O_RDONLY | getattr(os, "O_CLOEXEC", 0)
                )
            except OSError as exc:  # /proc/self/io is unreadable in some sandboxes: those keys are left out
                logger.info("telemetry: /proc/self/%s unreadable (%s); its keys are left out", name, exc)
                self.fds[name] = None

    def read(self, name: str) -> bytes | None:
        fd = self.fds.get(name)
        if fd is None:
            return None
        try:
            return os.pread(fd, 4096, 0)
        except OSError:
            return None

    def close(self) -> None:
        for fd in self.fds.values():
            if fd is not None:
                try:
                    os.close(fd)
                except OSError:
                    pass
        self.fds = {}


_proc_files: _ProcFiles | None = None
_constants: list[tuple[str, Any]] | None = None
_memory_total: int = 0
# (monotonic wall, CPU seconds) of the latest process reading, the baseline of the next cpu_percent
_last_process_cpu: tuple[float, float] | None = None
_IO_NAMES = {
    b"syscr": "pg:process_io_read_count",
    b"syscw": "pg:process_io_write_count",
    b"read_bytes": "pg:process_io_read_bytes",
    b"write_bytes": "pg:process_io_write_bytes",
    b"rchar": "pg:process_io_read_chars",
    b"wchar": "pg:process_io_write_chars",
}


def _process_constants(redactor: Redactor) -> list[tuple[str, Any]]:
    global _constants, _memory_total
    if _constants is None:
        try:
            _memory_total = os.sysconf("SC_PHYS_PAGES") * _PAGE_BYTES
        except (ValueError, OSError, AttributeError):
            _memory_total = 0
        executable = sys.executable
        if _LINUX:
            try:
                executable = os.readlink("/proc/self/exe")
            except OSError:
                pass
        _constants = [
            ("pg:process_pid", os.getpid()),
            ("pg:process_executable", executable),
            ("pg:process_cmd_line", _json(redactor.command_line(_command_line()))),
        ]
    return _constants


def _command_line() -> list[str]:
    if _LINUX:
        try:
            with open("/proc/self/cmdline", "rb") as handle:
                return [part.decode(errors="replace") for part in handle.read().split(b"\0") if part]
        except OSError:
            pass
    return [sys.executable, *sys.argv]


def _process_pairs(
    cpu_since: tuple[float, float] | None, redactor: Redactor
) -> tuple[list[tuple[str, Any]], tuple[float, float]]:
    """The per-task process readings, and this reading's (wall, cpu) for the next cpu-percent."""
    global _proc_files, _last_process_cpu, _process_start
    pairs = list(_process_constants(redactor))
    usage = resource.getrusage(resource.RUSAGE_SELF)
    wall = time.monotonic()
    cpu = usage.ru_utime + usage.ru_stime
    pairs += [
        ("pg:process_cpu_times_user_s", round(usage.ru_utime, 6)),
        ("pg:process_cpu_times_system_s", round(usage.ru_stime, 6)),
        ("pg:process_num_ctx_switches_voluntary", usage.ru_nvcsw),
        ("pg:process_num_ctx_switches_involuntary", usage.ru_nivcsw),
    ]
    since = cpu_since or _last_process_cpu
    if since is not None and wall > since[0]:
        percent = (cpu - since[1]) / (wall - since[0]) * 100.0
    else:  # the first reading in this process: the average since it started
        if _process_start is None:
            _process_start = _process_start_monotonic()
        percent = cpu / max(wall - _process_start, 1e-6) * 100.0
    pairs.append(("pg:process_cpu_percent", round(percent, 2)))
    _last_process_cpu = (wall, cpu)
    if _LINUX:
        files = _proc_files
        if files is None or files.pid != os.getpid():
            files = _proc_files = _ProcFiles()
        pairs += _linux_process(files)
    else:
        pairs += _psutil_process()
    return pairs, (wall, cpu)


def _linux_process(files: _ProcFiles) -> list[tuple[str, Any]]:
    pairs: list[tuple[str, Any]] = []
    stat = files.read("stat")
    if stat:
        # Fields after the parenthesised command name (which may hold spaces): state is field 3.
        fields = stat[stat.rindex(b")") + 2 :].split()
        pairs += [
            ("pg:process_cpu_times_children_user_s", int(fields[13]) / _CLOCK_TICKS),
            ("pg:process_cpu_times_children_system_s", int(fields[14]) / _CLOCK_TICKS),
            ("pg:process_num_threads", int(fields[17])),
            ("pg:process_cpu_number", int(fields[36])),
            ("pg:process_cpu_times_iowait_s", int(fields[39]) / _CLOCK_TICKS if len(fields) > 39 else 0.0),
        ]
    statm = files.read("statm")
    if statm:
        size, resident, shared, text, lib, data, dirty = (int(v) * _PAGE_BYTES for v in statm.split()[:7])
        pairs += [
            ("pg:process_rss_bytes", resident),
            ("pg:process_vms_bytes", size),
            ("pg:process_shared_bytes", shared),
            ("pg:process_text_bytes", text),
            ("pg:process_lib_bytes", lib),
            ("pg:process_data_bytes", data),
            ("pg:process_dirty_bytes", dirty),
            (
                "pg:process_memory_percent",
                round(resident / _memory_total * 100.0, 4) if _memory_total else 0.0,
            ),
        ]
    io = files.read("io")
    if io:
        for line in io.splitlines():
            name, _, value = line.partition(b":")
            key = _IO_NAMES.get(name)
            if key is not None:
                pairs.append((key, int(value)))
    return pairs


def _psutil_process() -> list[tuple[str, Any]]:
    with guard():  # fork-safe: never half-imported in a child (capture._lazy)
        import psutil

    process = psutil.Process()
    pairs: list[tuple[str, Any]] = []
    with process.oneshot():
        memory = process.memory_info()
        pairs += _bytes_pairs("process", memory)
        pairs.append(("pg:process_memory_percent", round(process.memory_percent(), 4)))
        times = process.cpu_times()
        pairs += [
            ("pg:process_cpu_times_children_user_s", times.children_user),
            ("pg:process_cpu_times_children_system_s", times.children_system),
            ("pg:process_cpu_times_iowait_s", getattr(times, "iowait", 0.0)),
            ("pg:process_num_threads", process.num_threads()),
        ]
        if hasattr(process, "cpu_num"):
            pairs.append(("pg:process_cpu_number", process.cpu_num()))
        if hasattr(process, "io_counters"):
            try:
                io = process.io_counters()
            except (psutil.Error, OSError):
                io = None
            if io is not None:
                for field, key in (
                    ("read_count", "read_count"),
                    ("write_count", "write_count"),
                    ("read_bytes", "read_bytes"),
                    ("write_bytes", "write_bytes"),
                    ("read_chars", "read_chars"),
                    ("write_chars", "write_chars"),
                ):
                    if hasattr(io, field):
                        pairs.append((f"pg:process_io_{key}", getattr(io, field)))
    return pairs


def _process_start_monotonic() -> float:
    """When this process started, on the monotonic clock (Linux: from /proc/self/stat; else module import)."""
    if _LINUX:
        try:
            with open("/proc/self/stat", "rb") as handle:
                stat = handle.read()
            start_ticks = int(stat[stat.rindex(b")") + 2 :].split()[19])
            with open("/proc/uptime", "rb") as handle:
                uptime = float(handle.read().split()[0])
            return time.monotonic() - (uptime - start_ticks / _CLOCK_TICKS)
        except (OSError, ValueError, IndexError):
            pass
    return time.monotonic()


_process_start: float | None = None


# --- the background sampler -------------------------------------------------------------------------------------


class _Sample:
    """One reading of the sampled types: ``parts[type]`` is a tuple of attribute pairs."""

    __slots__ = ("at", "parts", "types")

    def __init__(self, at: float, parts: dict[str, tuple[tuple[str, Any], ...]]) -> None:
        self.at = at
        self.parts = parts
        self.types = frozenset(parts)


class _Sampler:
    """The one background thread per process that reads system-wide and expensive values."""

    def __init__(self, interval_s: float, gpu: GpuReader | None = None) -> None:
        self.interval_s = interval_s
        self.types: set[str] = set()
        self.latest: _Sample | None = None
        self.gpu = gpu or GpuReader()
        self.thread: threading.Thread | None = None
        self.stop_event = threading.Event()
        self.lock = threading.Lock()
        self.last_used = time.monotonic()
        self.thread_cpu_s = 0.0  # CPU time the sampler thread spent, for the benchmark
        self.samples = 0
        self._prev_cpu: list[Any] | None = None
        self._slow: tuple[tuple[str, Any], ...] = ()
        self._failed: set[str] = set()

    # called on the task's thread: must stay cheap once running
    def ensure(self, types: Sequence[str]) -> _Sample:
        self.last_used = time.monotonic()
        latest = self.latest
        thread = self.thread
        if latest is not None and thread is not None and latest.types.issuperset(types) and thread.is_alive():
            return latest
        with self.lock:
            if self.latest is None or not self.latest.types.issuperset(types) or self._stale():
                self.types.update(types)
                self.latest = self._take(self.types)
            if self.thread is None or not self.thread.is_alive():
                self.stop_event.clear()
                self.thread = threading.Thread(target=self._run, name="provgraph-telemetry", daemon=True)
                self.thread.start()
            return self.latest

    def _stale(self) -> bool:
        return self.latest is None or time.monotonic() - self.latest.at > 2 * self.interval_s

    def take(self, types: Sequence[str]) -> _Sample:
        """A fresh reading, now (for `telemetry_snapshot`)."""
        with self.lock:
            return self._take(set(types))

    def stop(self, timeout_s: float = 1.0) -> None:
        self.stop_event.set()
        thread = self.thread
        if thread is not None and thread.is_alive() and thread is not threading.current_thread():
            thread.join(timeout_s)

    def _run(self) -> None:
        started = time.thread_time()
        try:
            while not self.stop_event.wait(self.interval_s):
                if time.monotonic() - self.last_used > _IDLE_STOP_S:
                    logger.debug("telemetry sampler idle for %.0f s: stopping", _IDLE_STOP_S)
                    break
                with self.lock:
                    self.latest = self._take(self.types)
        except Exception:  # noqa: BLE001 - a sampler failure must never reach user code
            logger.exception("telemetry sampler stopped")
        finally:
            self.thread_cpu_s += time.thread_time() - started

    def _take(self, types: set[str]) -> _Sample:
        with guard():  # fork-safe: never half-imported in a child (capture._lazy)
            import psutil  # lazily: in the sampler (or the first task), never at `import capture`

        parts: dict[str, tuple[tuple[str, Any], ...]] = {}
        readers: dict[str, Callable[..., list[tuple[str, Any]]]] = {
            "cpu": self._cpu,
            "process": self._process,
            "memory": self._memory,
            "disk": self._disk,
            "network": self._network,
            "gpu": self.gpu.read,
        }
        for kind in _SAMPLED:
            if kind not in types:
                continue
            try:
                parts[kind] = tuple(readers[kind](psutil) if kind != "gpu" else readers[kind]())
            except Exception as exc:  # noqa: BLE001 - one failing reading leaves its keys out, once noted
                parts[kind] = ()
                if kind not in self._failed:
                    self._failed.add(kind)
                    logger.warning("telemetry: %s readings failed (%s: %s)", kind, type(exc).__name__, exc)
        self.samples += 1
        return _Sample(time.monotonic(), parts)

    def _cpu(self, psutil: Any) -> list[tuple[str, Any]]:
        per_cpu = psutil.cpu_times(percpu=True)
        total = psutil.cpu_times(percpu=False)
        pairs = _pairs("cpu_times_avg", total, {f: "_s" for f in total._fields})
        # Percent since the previous sample, from our own time deltas: psutil.cpu_percent() would move the
        # baseline of the user's own psutil.cpu_percent() calls. The first sample covers the time since boot.
        previous = self._prev_cpu or [None] * (len(per_cpu) + 1)
        current = [total, *per_cpu]
        percents = [_busy_percent(old, new) for old, new in zip(previous, current, strict=False)]
        self._prev_cpu = current
        pairs.append(("pg:cpu_percent", percents[0]))
        frequency = None
        try:
            freq = psutil.cpu_freq()
            frequency = freq.current if freq is not None else None
        except (OSError, NotImplementedError, RuntimeError):
            pass
        if not frequency:
            frequency = _cpuinfo_mhz()
        if frequency:
            pairs.append(("pg:cpu_frequency_mhz", round(float(frequency), 3)))
        pairs.append(
            (
                "pg:cpu_times_per_cpu",
                _json([{k: _finite(v) for k, v in c._asdict().items()} for c in per_cpu]),
            )
        )
        pairs.append(("pg:cpu_percent_per_cpu", _json(percents[1:])))
        return pairs

    def _process(self, psutil: Any) -> list[tuple[str, Any]]:
        process = psutil.Process()
        pairs: list[tuple[str, Any]] = []
        try:
            pairs.append(("pg:process_num_open_file_descriptors", process.num_fds()))
        except (AttributeError, psutil.Error):  # Windows: handles instead of descriptors
            pairs.append(("pg:process_num_open_file_descriptors", process.num_handles()))
        if self.samples % _SLOW_EVERY == 0 or not self._slow:
            slow: list[tuple[str, Any]] = []
            for key, read in (
                ("pg:process_num_open_files", process.open_files),
                ("pg:process_num_connections", process.net_connections),
            ):
                try:
                    slow.append((key, len(read())))
                except (psutil.Error, OSError) as exc:
                    logger.debug("telemetry: %s unavailable: %s", key, exc)
            self._slow = tuple(slow)
        pairs += self._slow
        return pairs

    def _memory(self, psutil: Any) -> list[tuple[str, Any]]:
        virtual = psutil.virtual_memory()
        pairs = _bytes_pairs("memory_virtual", virtual)
        swap = _quiet_swap(psutil)
        pairs += _bytes_pairs("memory_swap", swap)
        return pairs

    def _disk(self, psutil: Any) -> list[tuple[str, Any]]:
        usage = psutil.disk_usage("/")
        pairs = _bytes_pairs("disk_usage", usage)
        per_disk = psutil.disk_io_counters(perdisk=True) or {}
        total = psutil.disk_io_counters(perdisk=False)
        if total is not None:
            pairs += _pairs("disk_io", total, {"read_time": "_ms", "write_time": "_ms", "busy_time": "_ms"})
        pairs.append(("pg:disk_io_per_disk", _table(per_disk, ("read_count", "write_count"))))
        return pairs

    def _network(self, psutil: Any) -> list[tuple[str, Any]]:
        total = psutil.net_io_counters(pernic=False)
        pairs = _pairs("network", total) if total is not None else []
        pairs.append(
            (
                "pg:network_per_interface",
                _table(psutil.net_io_counters(pernic=True) or {}, ("bytes_sent", "bytes_recv")),
            )
        )
        return pairs


def _busy_percent(old: Any, new: Any) -> float:
    def split(times: Any) -> tuple[float, float]:
        values = times._asdict()
        total = sum(values.values()) - values.get("guest", 0.0) - values.get("guest_nice", 0.0)
        idle = values.get("idle", 0.0) + values.get("iowait", 0.0)
        return total, idle

    new_total, new_idle = split(new)
    old_total, old_idle = split(old) if old is not None else (0.0, 0.0)
    elapsed = new_total - old_total
    if elapsed <= 0:
        return 0.0
    return round(max(0.0, min(100.0, (elapsed - (new_idle - old_idle)) / elapsed * 100.0)), 2)


def _quiet_swap(psutil: Any) -> Any:
    import warnings

    with warnings.catch_warnings():  # containers without /proc/vmstat: psutil warns about sin/sout
        warnings.simplefilter("ignore", RuntimeWarning)
        return psutil.swap_memory()


def _cpuinfo_mhz() -> float | None:
    values = [float(v) for k, v in _cpuinfo_entries() if k == "cpu MHz" and _is_number(v)]
    return sum(values) / len(values) if values else None


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


_sampler: _Sampler | None = None
_sampler_lock = threading.Lock()


def _get_sampler(interval_s: float) -> _Sampler:
    global _sampler
    sampler = _sampler
    if sampler is None:
        with _sampler_lock:
            if _sampler is None:
                _sampler = _Sampler(interval_s)
            sampler = _sampler
    return sampler


def start_sampler(settings: Any = None) -> None:
    """Start the background sampler now (e.g. at workflow start), so the first task pays nothing for it."""
    plan = _plan(settings if settings is not None else _default_settings())
    if plan.sampled:
        _get_sampler(plan.interval_s).ensure(plan.sampled)


def _stop_sampler_at_exit() -> None:
    if _sampler is not None:
        _sampler.stop(timeout_s=1.0)


def _reset_in_child() -> None:
    """After fork: the child reads its own /proc/self and starts its own sampler when it needs one."""
    global _sampler, _sampler_lock, _machine_lock, _proc_files, _constants, _last_process_cpu, _machine_cache
    global _process_start
    _sampler = (
        None  # the parent's thread does not exist here; a lock it held at the fork stays held: new ones
    )
    _sampler_lock = threading.Lock()
    _machine_lock = threading.Lock()
    _process_start = None
    if _proc_files is not None:
        _proc_files.close()  # this process's copies of descriptors that read the parent's /proc entries
    _proc_files = None
    _constants = None
    _last_process_cpu = None
    _machine_cache = {}


atexit.register(_stop_sampler_at_exit)
if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_reset_in_child)


# --- per task -----------------------------------------------------------------------------------------------------


class TaskTelemetry:
    """Telemetry of one task: `start` at its start, `end` at its end, each a list of ``pg:`` attribute pairs.

    Args:
        settings: the capture settings; ``settings.telemetry`` lists the types recorded.
    """

    __slots__ = ("_plan", "_started_cpu")

    def __init__(self, settings: Any = None) -> None:
        self._plan = _plan(settings if settings is not None else _default_settings())
        self._started_cpu: tuple[float, float] | None = None

    def start(self) -> list[tuple[str, Any]]:
        """The readings at the task's start."""
        pairs, self._started_cpu = self._read(None)
        return pairs

    def end(self) -> list[tuple[str, Any]]:
        """The readings at the task's end (process CPU percent over the task)."""
        pairs, _ = self._read(self._started_cpu)
        return pairs

    def _read(self, cpu_since: tuple[float, float] | None) -> tuple[list[tuple[str, Any]], Any]:
        plan = self._plan
        reading: Any = None
        if plan.process:
            pairs, reading = _process_pairs(cpu_since, plan.redactor)
        else:
            pairs = []
        if plan.sampled:
            sample = _get_sampler(plan.interval_s).ensure(plan.sampled)
            parts = sample.parts
            for kind in plan.sampled:
                pairs.extend(parts.get(kind, ()))
            pairs.append(("pg:sample_age_ms", round((time.monotonic() - sample.at) * 1000.0, 1)))
        return pairs, reading


def new_task_telemetry() -> TaskTelemetry | None:
    """A `TaskTelemetry` for one task with the settings capture runs with, or ``None`` if it cannot be had."""
    try:
        return TaskTelemetry(_context.settings())
    except Exception as exc:  # noqa: BLE001 - telemetry must never break a task
        logger.warning("telemetry unavailable: %s", exc)
        return None


def telemetry_phase(sampler: TaskTelemetry | None, phase: str) -> list[tuple[str, Any]] | None:
    """``sampler.start()`` or ``sampler.end()`` (``None`` without a sampler), never raising into the task."""
    if sampler is None:
        return None
    try:
        return list(sampler.start() if phase == "start" else sampler.end())
    except Exception as exc:  # noqa: BLE001
        logger.warning("telemetry %s reading failed: %s", phase, exc)
        return None


def telemetry_snapshot(types: Iterable[str] | None = None, settings: Any = None) -> dict[str, Any]:
    """One fresh telemetry reading, now, as ``{name: value}`` (the names a telemetry node's properties have).

    Args:
        types: the types to read (default: the settings' ``telemetry`` list; ``machine`` adds `machine_info`).
        settings: capture settings (default: the ones capture runs with).

    Returns:
        A flat dict of JSON scalars; tables (per CPU, per disk, per interface) are JSON text.

    Example::

        import capture

        snapshot = capture.telemetry_snapshot(["cpu", "memory"])
        print(snapshot["cpu_percent"], snapshot["memory_virtual_available_bytes"])
    """
    settings = settings if settings is not None else _default_settings()
    if types is not None:
        settings = _with_types(settings, list(types))
    plan = _plan(settings)
    out: dict[str, Any] = {}
    if plan.process:
        pairs, _ = _process_pairs(None, plan.redactor)
        out.update((name[3:], value) for name, value in pairs)
    if plan.sampled:
        sample = _get_sampler(plan.interval_s).take(plan.sampled)
        for kind in plan.sampled:
            out.update((name[3:], value) for name, value in sample.parts.get(kind, ()))
    if "machine" in plan.types:
        out.update((f"machine_{k}", v) for k, v in machine_info(settings).items())
    return out


def _with_types(settings: Any, types: list[str]) -> Any:
    if hasattr(settings, "replace"):
        return settings.replace(telemetry=types)
    from types import SimpleNamespace

    return SimpleNamespace(**{**vars(settings), "telemetry": types})


# --- the machine snapshot ------------------------------------------------------------------------------------------

_machine_cache: dict[Any, dict[str, Any]] = {}
_machine_lock = threading.Lock()
_cpuinfo_cache: list[tuple[str, str]] | None = None


def _cpuinfo_entries() -> list[tuple[str, str]]:
    """``/proc/cpuinfo`` as (key, value) pairs, read once per process (0.13 ms)."""
    global _cpuinfo_cache
    if _cpuinfo_cache is None:
        entries: list[tuple[str, str]] = []
        try:
            with open("/proc/cpuinfo", encoding="utf-8", errors="replace") as handle:
                for line in handle:
                    key, sep, value = line.partition(":")
                    if sep:
                        entries.append((key.strip(), value.strip()))
        except OSError:
            pass
        _cpuinfo_cache = entries
    return _cpuinfo_cache


def _cpu_description() -> dict[str, Any]:
    """CPU brand, vendor, family/model/stepping, counts, cache, flags; never py-cpuinfo's 1.3 s probe."""
    entries = _cpuinfo_entries()
    first: dict[str, str] = {}
    for key, value in entries:
        first.setdefault(key, value)
    physical = set(_cores(entries))
    machine = platform.machine()
    description: dict[str, Any] = {
        "cpu_brand": first.get("model name")
        or first.get("Model")
        or first.get("Hardware")
        or ("" if _LINUX else platform.processor())  # on Linux it would run `uname -p` in a subprocess
        or machine,
        "cpu_vendor": first.get("vendor_id") or first.get("CPU implementer", ""),
        "cpu_arch": machine,
        "cpu_bits": 64 if sys.maxsize > 2**32 else 32,
        "cpu_count": os.cpu_count() or 0,
        "cpu_count_physical": len(physical) or (os.cpu_count() or 0),
    }
    for key, name in (
        ("cpu family", "cpu_family"),
        ("model", "cpu_model"),
        ("stepping", "cpu_stepping"),
        ("microcode", "cpu_microcode"),
        ("cache size", "cpu_cache_size"),
        ("cpu MHz", "cpu_mhz"),
    ):
        if key in first:
            value = first[key]
            description[name] = float(value) if name == "cpu_mhz" and _is_number(value) else value
    flags = first.get("flags") or first.get("Features")
    if flags:
        description["cpu_flags"] = _json(flags.split())
    return description


def _cores(entries: list[tuple[str, str]]) -> list[tuple[str, str]]:
    cores, package = [], ""
    for key, value in entries:
        if key == "physical id":
            package = value
        elif key == "core id":
            cores.append((package, value))
    return cores


def machine_id() -> str:
    """This host's stable id: a hash of ``/etc/machine-id`` (never the raw value), else of the hostname."""
    seed = ""
    for path in ("/etc/machine-id", "/var/lib/dbus/machine-id"):
        try:
            with open(path, encoding="ascii", errors="replace") as handle:
                seed = handle.read().strip()
        except OSError:
            continue
        if seed:
            break
    seed = seed or socket.gethostname()
    return hashlib.sha256(f"provgraph-host:{seed}".encode()).hexdigest()[:16]


def _login() -> str:
    try:
        return getpass.getuser()
    except Exception:  # noqa: BLE001 - containers without a passwd entry
        return "unknown"


def machine_info(settings: Any = None) -> dict[str, Any]:
    """The machine snapshot, taken once per process: platform, CPU, memory, disk, NICs, host, login, process,
    GPUs and the (redacted) environment.

    Args:
        settings: capture settings; ``machine`` in ``settings.telemetry`` includes the snapshot (without it only
            ``host_id`` and ``hostname``), ``gpu`` adds the GPUs; the ``redact_*`` settings decide what of the
            environment and the command line is redacted (docs/security.md).

    Returns:
        A flat dict of JSON scalars (tables are JSON text), the machine agent's attributes without ``pg:``.
    """
    plan = _plan(settings if settings is not None else _default_settings())
    key = (plan.types, plan.redactor)
    cached = _machine_cache.get(key)
    if cached is not None:
        return cached
    with _machine_lock:
        cached = _machine_cache.get(key)
        if cached is None:
            cached = _machine_cache[key] = _read_machine(plan)
    return cached


def _read_machine(plan: _Plan) -> dict[str, Any]:
    info: dict[str, Any] = {"host_id": machine_id(), "hostname": socket.gethostname()}
    if "machine" not in plan.types:
        return info
    uname = os.uname() if hasattr(os, "uname") else None
    system = platform.system()
    release = uname.release if uname else platform.release()
    machine = uname.machine if uname else platform.machine()
    info["login"] = _login()
    info["platform"] = f"{system}-{release}-{machine}"
    info.update(
        platform_system=system,
        platform_node=uname.nodename if uname else platform.node(),
        platform_release=release,
        platform_version=uname.version if uname else platform.version(),
        platform_machine=machine,
        python_version=platform.python_version(),
        python_implementation=platform.python_implementation(),
    )
    cpu = _cpu_description()
    # platform.uname().processor runs `uname -p` in a subprocess on Linux; the CPU brand says more, for free.
    info["platform_processor"] = cpu["cpu_brand"]
    info.update(cpu)
    info.update(_linux_resources() if _LINUX else _psutil_resources())
    pairs, _ = _process_pairs(None, plan.redactor)
    info.update((k[3:], v) for k, v in pairs)
    if "gpu" in plan.types:
        sampler = _get_sampler(plan.interval_s)
        info.update((k[3:], v) for k, v in sampler.gpu.read())
        if not info.get("gpu_count"):
            info["gpu_unavailable"] = sampler.gpu.note or "no GPU found"
    else:
        info["gpu_unavailable"] = "GPU telemetry is off (setting telemetry has no 'gpu')"
    info["environment"] = _json(plan.redactor.environment(os.environ))
    return info


def process_facts(settings: Any = None) -> dict[str, Any]:
    """What differs from process to process and run to run, read now (not cached): the process's readings and the
    environment after redaction, named as in `machine_info`."""
    plan = _plan(settings if settings is not None else _default_settings())
    pairs, _ = _process_pairs(None, plan.redactor)
    facts = {name[3:]: value for name, value in pairs}
    facts["environment"] = _json(plan.redactor.environment(os.environ))
    return facts


def _psutil_resources() -> dict[str, Any]:
    """Memory, swap, disk usage, NIC addresses and descriptors through psutil (platforms other than Linux)."""
    with guard():  # fork-safe: never half-imported in a child (capture._lazy)
        import psutil

    info: dict[str, Any] = {}
    info.update((k[3:], v) for k, v in _bytes_pairs("memory_virtual", psutil.virtual_memory()))
    info.update((k[3:], v) for k, v in _bytes_pairs("memory_swap", _quiet_swap(psutil)))
    info.update((k[3:], v) for k, v in _bytes_pairs("disk_usage", psutil.disk_usage("/")))
    addresses = {
        nic: [{k: (v.name if hasattr(v, "name") else v) for k, v in a._asdict().items()} for a in entries]
        for nic, entries in psutil.net_if_addrs().items()
    }
    info["network_addresses"] = _json(addresses)
    process = psutil.Process()
    try:
        info["process_num_open_file_descriptors"] = process.num_fds()
    except (AttributeError, psutil.Error):  # Windows: handles instead of descriptors
        info["process_num_open_file_descriptors"] = getattr(process, "num_handles")()  # noqa: B009
    return info


def _linux_resources() -> dict[str, Any]:
    """The same as `_psutil_resources`, from /proc, /sys and ioctls: the snapshot at workflow start then costs
    about a millisecond instead of psutil's import (10-50 ms). Fields and formulas are psutil's."""
    info: dict[str, Any] = {}
    meminfo: dict[str, int] = {}
    with open("/proc/meminfo", "rb") as handle:
        for line in handle:
            name, _, rest = line.partition(b":")
            parts = rest.split()
            if parts:
                meminfo[name.decode()] = int(parts[0]) * (1024 if len(parts) > 1 else 1)
    total, free = meminfo.get("MemTotal", 0), meminfo.get("MemFree", 0)
    buffers = meminfo.get("Buffers", 0)
    cached = meminfo.get("Cached", 0) + meminfo.get("SReclaimable", 0)
    available = meminfo.get("MemAvailable", free + buffers + cached)
    available = free if available > total else max(available, 0)
    virtual = {
        "total": total,
        "available": available,
        "percent": round((total - available) / total * 100, 1) if total else 0.0,
        "used": total - available,
        "free": free,
        "active": meminfo.get("Active", 0),
        "inactive": meminfo.get("Inactive", 0),
        "buffers": buffers,
        "cached": cached,
        "shared": meminfo.get("Shmem", 0),
        "slab": meminfo.get("Slab", 0),
    }
    info.update((k[3:], v) for k, v in _bytes_pairs("memory_virtual", virtual))
    swap_total, swap_free = meminfo.get("SwapTotal", 0), meminfo.get("SwapFree", 0)
    swapped = {"pswpin": 0, "pswpout": 0}
    try:
        with open("/proc/vmstat", "rb") as handle:
            for line in handle:
                name, _, value = line.partition(b" ")
                if name in (b"pswpin", b"pswpout"):
                    swapped[name.decode()] = int(value) * 4 * 1024  # pages of 4 KiB, as psutil counts them
    except OSError:
        pass
    swap = {
        "total": swap_total,
        "used": swap_total - swap_free,
        "free": swap_free,
        "percent": round((swap_total - swap_free) / swap_total * 100, 1) if swap_total else 0.0,
        "sin": swapped["pswpin"],
        "sout": swapped["pswpout"],
    }
    info.update((k[3:], v) for k, v in _bytes_pairs("memory_swap", swap))
    fs = os.statvfs("/")
    disk_total = fs.f_blocks * fs.f_frsize
    used = disk_total - fs.f_bfree * fs.f_frsize
    user_free = fs.f_bavail * fs.f_frsize
    usage = {
        "total": disk_total,
        "used": used,
        "free": user_free,
        "percent": round(used / (used + user_free) * 100, 1) if used + user_free else 0.0,
    }
    info.update((k[3:], v) for k, v in _bytes_pairs("disk_usage", usage))
    info["network_addresses"] = _json(_linux_nic_addresses())
    try:
        info["process_num_open_file_descriptors"] = len(os.listdir("/proc/self/fd"))
    except OSError:
        pass
    return info


_SIOCGIFCONF, _SIOCGIFFLAGS, _SIOCGIFNETMASK, _SIOCGIFBRDADDR, _SIOCGIFDSTADDR = (
    0x8912, 0x8913, 0x891B, 0x8919, 0x8917,
)  # fmt: skip
_IFF_BROADCAST, _IFF_POINTOPOINT = 0x2, 0x10


def _linux_nic_addresses() -> dict[str, list[dict[str, Any]]]:
    """What psutil's ``net_if_addrs()`` reports: per interface, its MAC (AF_PACKET), IPv4 and IPv6 addresses."""
    import array
    import fcntl
    import struct

    def flags_of(name: str) -> int:
        try:
            with open(f"/sys/class/net/{name}/flags", encoding="ascii") as handle:
                return int(handle.read().strip(), 16)
        except (OSError, ValueError):
            return 0

    def sys_value(name: str, item: str) -> str | None:
        try:
            with open(f"/sys/class/net/{name}/{item}", encoding="ascii") as handle:
                return handle.read().strip() or None
        except OSError:
            return None

    def entry(
        family: str, address: str, netmask: Any = None, broadcast: Any = None, ptp: Any = None
    ) -> dict[str, Any]:
        return {"family": family, "address": address, "netmask": netmask, "broadcast": broadcast, "ptp": ptp}

    addresses: dict[str, list[dict[str, Any]]] = {}
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:

        def ipv4_of(request: int, label: str) -> str | None:
            try:
                packed = fcntl.ioctl(sock.fileno(), request, struct.pack("256s", label.encode()[:15]))
            except OSError:
                return None
            return socket.inet_ntoa(packed[20:24])

        request_size = 16 + (24 if struct.calcsize("P") == 8 else 16)  # struct ifreq
        capacity = request_size * 256
        holder = array.array("B", bytes(capacity))
        pointer, _ = holder.buffer_info()
        result = fcntl.ioctl(sock.fileno(), _SIOCGIFCONF, struct.pack("iL", capacity, pointer))
        length = struct.unpack("iL", result)[0]
        raw = holder.tobytes()[:length]
        for offset in range(0, length, request_size):
            label = raw[offset : offset + 16].split(b"\0", 1)[0].decode(errors="replace")
            address = socket.inet_ntoa(raw[offset + 20 : offset + 24])
            flags = flags_of(label.split(":", 1)[0])
            addresses.setdefault(label, []).append(
                entry(
                    "AF_INET",
                    address,
                    ipv4_of(_SIOCGIFNETMASK, label),
                    ipv4_of(_SIOCGIFBRDADDR, label) if flags & _IFF_BROADCAST else None,
                    ipv4_of(_SIOCGIFDSTADDR, label) if flags & _IFF_POINTOPOINT else None,
                )
            )
    except OSError as exc:
        logger.debug("IPv4 addresses unavailable: %s", exc)
    finally:
        sock.close()
    try:
        with open("/proc/net/if_inet6", encoding="ascii") as handle:
            for line in handle:
                hex_address, _index, prefix, scope, _flags, name = line.split()
                address = socket.inet_ntop(socket.AF_INET6, bytes.fromhex(hex_address))
                if int(scope, 16) == 0x20:  # link-local: psutil names the interface
                    address = f"{address}%{name}"
                bits = int(prefix, 16)
                mask = ((1 << 128) - 1) ^ ((1 << (128 - bits)) - 1)
                netmask = socket.inet_ntop(socket.AF_INET6, mask.to_bytes(16, "big"))
                addresses.setdefault(name, []).append(entry("AF_INET6", address, netmask))
    except OSError:
        pass
    try:
        names = sorted(os.listdir("/sys/class/net"))
    except OSError:
        names = []
    for name in names:
        mac = sys_value(name, "address")
        if mac:
            flags = flags_of(name)
            broadcast = sys_value(name, "broadcast") if flags & _IFF_BROADCAST else None
            ptp = sys_value(name, "broadcast") if flags & _IFF_POINTOPOINT else None
            addresses.setdefault(name, []).append(entry("AF_PACKET", mac, None, broadcast, ptp))
    return {name: addresses[name] for name in sorted(addresses)}
