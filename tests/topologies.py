"""Private Redis topologies for tests: a Sentinel group (master, replica, three sentinels) and a
3-primary Redis Cluster, each on free ports in its own temporary folder.

Every process is started by `Topology.spawn()` and killed by `Topology.close()` (used as a
context manager, so a failing test leaves nothing behind). Readiness is polled with a deadline,
never slept for.
"""

import contextlib
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import redis
from redis.cluster import ClusterNode, RedisCluster

from tests.conftest import free_port


def wait_until(condition: Callable[[], object], *, timeout: float, what: str) -> object:
    """Poll `condition` (errors count as "not yet") until it returns something truthy."""
    deadline = time.monotonic() + timeout
    last: BaseException | None = None
    pause = 0.02
    while time.monotonic() < deadline:
        try:
            result = condition()
        except (redis.RedisError, OSError) as exc:
            last, result = exc, None
        if result:
            return result
        time.sleep(pause)  # a poll interval, not a synchronisation
        pause = min(pause * 1.5, 0.2)
    raise TimeoutError(f"{what} not reached within {timeout:.0f} s (last error: {last})")


class Topology:
    def __init__(self, name: str) -> None:
        self.folder = Path(tempfile.mkdtemp(prefix=f"cf-{name}-", dir="/tmp"))
        self.processes: dict[int, subprocess.Popen] = {}  # port -> process

    def spawn(self, port: int, args: list[str], *, password: str | None = None) -> subprocess.Popen:
        log = (self.folder / f"{port}.log").open("wb")
        process = subprocess.Popen(args, cwd=self.folder, stdout=log, stderr=subprocess.STDOUT)
        log.close()
        self.processes[port] = process

        def answering() -> bool:
            if process.poll() is not None:
                log = (self.folder / f"{port}.log").read_text(errors="replace")[-2000:]
                raise RuntimeError(f"{args[0]} on port {port} exited: {log}")
            return redis.Redis(port=port, password=password).ping()

        wait_until(answering, timeout=15, what=f"{args[0]} on port {port} answering")
        return process

    def kill(self, port: int) -> None:
        """kill -9, as a crashed machine would."""
        process = self.processes[port]
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=10)

    def close(self) -> None:
        for process in self.processes.values():
            if process.poll() is None:
                process.kill()
        for process in self.processes.values():
            with contextlib.suppress(subprocess.TimeoutExpired):  # SIGKILL cannot be ignored
                process.wait(timeout=10)
        shutil.rmtree(self.folder, ignore_errors=True)

    def __enter__(self):
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()


def _redis_server(port: int, *extra: str) -> list[str]:
    return [
        shutil.which("redis-server") or "redis-server",
        "--port",
        str(port),
        "--bind",
        "127.0.0.1",
        "--save",
        "",
        "--appendonly",
        "no",
        "--dbfilename",
        f"dump-{port}.rdb",
        "--loglevel",
        "warning",
        *extra,
    ]


class SentinelGroup(Topology):
    """A master, one replica and three sentinels watching them (quorum 2). With `password`, the
    data nodes require it (requirepass, and masterauth to follow a master); with
    `sentinel_password`, the sentinels require theirs (and use it with each other)."""

    def __init__(
        self, *, password: str | None = None, sentinel_password: str | None = None
    ) -> None:
        super().__init__("sentinel")
        self.password = password
        self.sentinel_password = sentinel_password
        self.data_ports = [free_port(), free_port()]
        self.sentinel_ports = [free_port() for _ in range(3)]
        # Its own name: django-redis keeps connection pools per URL for the whole process, so
        # two groups monitoring the same name would share the first group's sentinels.
        self.master = f"emb{self.data_ports[0]}"

    def start(self) -> "SentinelGroup":
        master, replica = self.data_ports
        auth = (
            ["--requirepass", self.password, "--masterauth", self.password] if self.password else []
        )
        self.spawn(master, _redis_server(master, *auth), password=self.password)
        self.spawn(
            replica,
            _redis_server(replica, "--replicaof", "127.0.0.1", str(master), *auth),
            password=self.password,
        )
        for port in self.sentinel_ports:
            config = self.folder / f"sentinel-{port}.conf"
            config.write_text(
                f"port {port}\nbind 127.0.0.1\ndir {self.folder}\n"
                f"sentinel monitor {self.master} 127.0.0.1 {master} 2\n"
                f"sentinel down-after-milliseconds {self.master} 1000\n"
                f"sentinel failover-timeout {self.master} 10000\n"
                f"sentinel parallel-syncs {self.master} 1\n"
                + (f"sentinel auth-pass {self.master} {self.password}\n" if self.password else "")
                + (f"requirepass {self.sentinel_password}\n" if self.sentinel_password else "")
            )
            binary = shutil.which("redis-sentinel")
            args = (
                [binary, str(config)]
                if binary
                else [_redis_server(0)[0], str(config), "--sentinel"]
            )
            self.spawn(port, args, password=self.sentinel_password)
        # Ready when every sentinel knows the replica and the two other sentinels (a failover
        # needs a quorum and a leader).
        for port in self.sentinel_ports:
            sentinel = self.sentinel_client(port)
            wait_until(
                lambda s=sentinel: (
                    len(s.sentinel_slaves(self.master)) == 1
                    and len(s.sentinel_sentinels(self.master)) == 2
                ),
                timeout=30,
                what=f"sentinel {port} knowing its replica and peers",
            )
        wait_until(
            lambda: self.data_client(replica).info("replication")["master_link_status"] == "up",
            timeout=15,
            what="replica in sync",
        )
        return self

    @property
    def sentinels(self) -> list[tuple[str, int]]:
        return [("127.0.0.1", port) for port in self.sentinel_ports]

    def sentinel_client(self, port: int) -> redis.Redis:
        return redis.Redis(port=port, password=self.sentinel_password)

    def data_client(self, port: int) -> redis.Redis:
        return redis.Redis(port=port, password=self.password)

    def master_port(self) -> int:
        sentinel = self.sentinel_client(self.sentinel_ports[0])
        _, port = sentinel.sentinel_get_master_addr_by_name(self.master)
        return int(port)

    def new_master(self, old: int) -> int | None:
        """The master's port once every live sentinel names one other than `old` and it
        accepts writes; None before."""
        ports = {
            int(self.sentinel_client(p).sentinel_get_master_addr_by_name(self.master)[1])
            for p in self.sentinel_ports
            if self.processes[p].poll() is None
        }
        if len(ports) != 1 or old in ports:
            return None
        [port] = ports
        role = self.data_client(port).info("replication")["role"]
        return port if role == "master" else None

    def cache_settings(self, *, database: int = 0) -> dict:
        from tests.conftest import redis_cache_settings

        return redis_cache_settings(
            f"redis://{self.master}/{database}",
            CLIENT_CLASS="django_redis.client.SentinelClient",
            CONNECTION_FACTORY="django_redis.pool.SentinelConnectionFactory",
            SENTINELS=self.sentinels,
        )


def _cluster_port() -> int:
    """A free port whose cluster bus port (port + 10000) is valid and free too."""
    while True:
        port = free_port()
        if port + 10000 > 65535:
            continue
        with socket.socket() as probe:
            try:
                probe.bind(("127.0.0.1", port + 10000))
            except OSError:
                continue
        return port


class Cluster(Topology):
    """Three primaries (no replicas): `redis-server --cluster-enabled yes` and
    `redis-cli --cluster create`."""

    def __init__(self, primaries: int = 3) -> None:
        super().__init__("cluster")
        self.ports = [_cluster_port() for _ in range(primaries)]

    def start(self) -> "Cluster":
        for port in self.ports:
            self.spawn(
                port,
                _redis_server(
                    port,
                    "--cluster-enabled",
                    "yes",
                    "--cluster-config-file",
                    f"nodes-{port}.conf",
                    "--cluster-node-timeout",
                    "1000",
                    # A cluster that lost a primary keeps answering for the slots it still has.
                    "--cluster-require-full-coverage",
                    "no",
                ),
            )
        subprocess.run(
            [
                shutil.which("redis-cli") or "redis-cli",
                "--cluster",
                "create",
                *(f"127.0.0.1:{port}" for port in self.ports),
                "--cluster-replicas",
                "0",
                "--cluster-yes",
            ],
            cwd=self.folder,
            check=True,
            capture_output=True,
            timeout=60,
        )
        wait_until(
            lambda: all(
                redis.Redis(port=p).cluster("info")["cluster_state"] == "ok" for p in self.ports
            ),
            timeout=30,
            what="cluster state ok on every node",
        )
        return self

    def client(self) -> RedisCluster:
        return RedisCluster(startup_nodes=[ClusterNode("127.0.0.1", p) for p in self.ports])

    def cache_settings(self) -> dict:
        return {
            "BACKEND": "embeddings.stores.cluster.RedisClusterCache",
            "LOCATION": [f"redis://127.0.0.1:{port}" for port in self.ports],
            "TIMEOUT": None,
            "OPTIONS": {"SOCKET_CONNECT_TIMEOUT": 0.25, "SOCKET_TIMEOUT": 0.5},
        }
