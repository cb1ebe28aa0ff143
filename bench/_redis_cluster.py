"""A throwaway local Redis Cluster: three primaries of Debian's ``redis-server`` on 127.0.0.1, in a directory.

Tests and benchmarks start one for themselves (never the shared servers), use its ``url`` (the
``redis-cluster://`` form capture and the loader take, docs/transport.md) and stop it in ``finally``.

Example::

    from bench._redis_cluster import LocalRedisCluster

    with LocalRedisCluster(tmp_path) as cluster:
        settings = Settings.load(redis_url=cluster.url)
        ...
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time
from pathlib import Path
from types import TracebackType

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

    def __init__(self, directory: str | os.PathLike[str], primaries: int = 3) -> None:
        self.directory = Path(directory)
        self.primaries = primaries
        self.ports: list[int] = []
        self._processes: list[subprocess.Popen[bytes]] = []
        self.server = shutil.which("redis-server") or "redis-server"
        self.cli = shutil.which("redis-cli") or "redis-cli"

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

    def start(self) -> LocalRedisCluster:
        self.directory.mkdir(parents=True, exist_ok=True)
        ports = _free_ports(2 * self.primaries)
        self.ports, buses = ports[: self.primaries], ports[self.primaries :]
        try:
            for port, bus in zip(self.ports, buses, strict=True):
                self._processes.append(
                    subprocess.Popen(
                        [
                            self.server,
                            "--port",
                            str(port),
                            "--cluster-port",
                            str(bus),
                            "--bind",
                            "127.0.0.1",
                            "--cluster-enabled",
                            "yes",
                            "--cluster-config-file",
                            f"nodes-{port}.conf",
                            "--dir",
                            str(self.directory),
                            "--save",
                            "",
                            "--appendonly",
                            "no",
                            "--logfile",
                            f"redis-{port}.log",
                        ],  # fmt: skip
                        stdout=subprocess.DEVNULL,
                        stderr=subprocess.DEVNULL,
                    )
                )
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
            for port in self.ports:  # every node agrees the cluster is whole before anyone writes
                self._wait(port, lambda reply: "cluster_state:ok" in reply, "CLUSTER", "INFO")
                self._wait(
                    port,
                    lambda reply: reply.count("master") >= self.primaries and "connected" in reply,
                    "CLUSTER",
                    "NODES",
                )
        except BaseException:
            self.stop()
            raise
        return self

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
