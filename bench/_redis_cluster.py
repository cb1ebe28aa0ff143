"""A throwaway local Redis Cluster: three primaries of Debian's ``redis-server`` on 127.0.0.1, in a directory.

Tests and benchmarks start one for themselves (never the shared servers), use its ``url`` (the
``redis-cluster://`` form capture and the loader take, docs/transport.md) and stop it in ``finally``; the
servers also die with the process that started them (``PR_SET_PDEATHSIG``), so a killed run leaves none.

Example::

    from bench._redis_cluster import LocalRedisCluster

    with LocalRedisCluster(tmp_path) as cluster:
        settings = Settings.load(redis_url=cluster.url)
        ...
"""

from __future__ import annotations

import functools
import os
import shutil
import socket
import subprocess
import time
from pathlib import Path
from types import TracebackType

from provgraph.services.embedded import _set_parent_death_signal

__all__ = ["LocalRedisCluster"]


def _free_ports(count: int) -> list[int]:
    """``count`` distinct ports free on 127.0.0.1 now (each node needs a client port and a cluster-bus port)."""
    sockets = []
    try:
        for _ in range(count):
            sock = socket.socket()
            sock.bind(("127.0.0.1", 0))
            sockets.append(sock)
        return [sock.getsockname()[1] for sock in sockets]
    finally:
        for sock in sockets:
            sock.close()


class LocalRedisCluster:
    """``primaries`` Redis Cluster nodes owning the 16,384 slots in equal ranges, no replicas, no persistence."""

    def __init__(
        self,
        directory: str | os.PathLike[str],
        primaries: int = 3,
        *,
        appendonly: bool = False,
        node_timeout_ms: int = 15000,
    ) -> None:
        self.directory = Path(directory)
        self.primaries = primaries
        self.appendonly = appendonly
        self.node_timeout_ms = node_timeout_ms
        self.ports: list[int] = []
        self.buses: list[int] = []
        self._processes: list[subprocess.Popen[bytes]] = []
        self.server = shutil.which("redis-server") or "redis-server"
        self.cli = shutil.which("redis-cli") or "redis-cli"

    @property
    def pids(self) -> list[int]:
        """Process ids of the running nodes."""
        return [process.pid for process in self._processes if process.poll() is None]

    @property
    def url(self) -> str:
        return "redis-cluster://" + ",".join(f"127.0.0.1:{port}" for port in self.ports)

    def _cli(self, port: int, *args: str, timeout: float = 30) -> str:
        result = subprocess.run(
            [self.cli, "-h", "127.0.0.1", "-p", str(port), *args],
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
        return result.stdout + result.stderr

    def _spawn(self, index: int) -> subprocess.Popen[bytes]:
        port = self.ports[index]
        return subprocess.Popen(
            [
                self.server,
                "--port",
                str(port),
                "--cluster-port",
                str(self.buses[index]),
                "--bind",
                "127.0.0.1",
                "--cluster-enabled",
                "yes",
                "--cluster-config-file",
                f"nodes-{port}.conf",
                "--cluster-node-timeout",
                str(self.node_timeout_ms),
                "--dir",
                str(self.directory),
                "--save",
                "",
                "--appendonly",
                "yes" if self.appendonly else "no",
                "--appendfilename",
                f"appendonly-{port}.aof",
                "--appenddirname",
                f"aof-{port}",
                "--logfile",
                f"redis-{port}.log",
            ],  # fmt: skip
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            # no orphan servers even when the test or bench is killed: they die with it
            preexec_fn=functools.partial(_set_parent_death_signal, os.getpid()),
        )

    def start(self) -> LocalRedisCluster:
        self.directory.mkdir(parents=True, exist_ok=True)
        ports = _free_ports(2 * self.primaries)
        self.ports, self.buses = ports[: self.primaries], ports[self.primaries :]
        try:
            self._processes = [self._spawn(index) for index in range(self.primaries)]
            for port in self.ports:
                self._wait(port, lambda reply: "PONG" in reply, "PING")
            nodes = [f"127.0.0.1:{port}" for port in self.ports]
            created = subprocess.run(
                [self.cli, "--cluster", "create", *nodes, "--cluster-replicas", "0", "--cluster-yes"],
                capture_output=True,
                text=True,
                timeout=60,
                check=False,
            )
            if created.returncode != 0:
                raise RuntimeError(f"redis-cli --cluster create failed: {created.stdout}{created.stderr}")
            self._wait_whole()
        except BaseException:
            self.stop()
            raise
        return self

    def _wait_whole(self) -> None:
        for port in self.ports:  # every node agrees the cluster is whole before anyone writes
            self._wait(port, lambda reply: "cluster_state:ok" in reply, "CLUSTER", "INFO")
            self._wait(
                port,
                lambda reply: reply.count("master") >= self.primaries and "disconnected" not in reply,
                "CLUSTER",
                "NODES",
            )

    def stop_node(self, index: int) -> None:
        """Stop primary ``index`` (SIGTERM: with ``appendonly`` its data is on disk) and wait until the other
        nodes mark the cluster failed (after ``node_timeout_ms``)."""
        process = self._processes[index]
        process.terminate()
        process.wait(timeout=10)
        other = self.ports[(index + 1) % self.primaries]
        self._wait(other, lambda reply: "cluster_state:fail" in reply, "CLUSTER", "INFO")

    def start_node(self, index: int) -> None:
        """Start primary ``index`` again on its port with its node file (and data), and wait until the cluster is
        whole."""
        self._processes[index] = self._spawn(index)
        self._wait(self.ports[index], lambda reply: "PONG" in reply, "PING")
        self._wait_whole()

    def _wait(self, port: int, ready: object, *command: str, timeout_s: float = 20.0) -> None:
        deadline = time.monotonic() + timeout_s
        reply = ""
        while time.monotonic() < deadline:
            reply = self._cli(port, *command, timeout=5)
            if ready(reply):  # type: ignore[operator]
                return
            time.sleep(0.05)
        raise RuntimeError(
            f"Redis Cluster node 127.0.0.1:{port} not ready after {timeout_s} s: {reply[-300:]}"
        )

    def stop(self) -> None:
        for process in self._processes:
            if process.poll() is None:
                process.terminate()
        for process in self._processes:
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=10)
        self._processes = []

    def __enter__(self) -> LocalRedisCluster:
        return self.start()

    def __exit__(
        self, kind: type[BaseException] | None, value: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()
