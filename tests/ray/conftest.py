"""A Ray cluster on this machine: a head and two worker "nodes", one per site.

The nodes are real raylets with their own logical resources and a `cashwatch-site`
label, so placement, node loss and restarts behave as on separate machines. Logical
CPUs are independent of the two real cores: each node offers 4, room for all four test
cameras on one node once the other is removed.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest

SITE_LABEL = "cashwatch-site"
OBJECT_STORE_BYTES = 80 * 2**20


# Ray turns "127.0.0.1" into the machine's own network address ("a remotely reachable
# IP", ray._private.services.resolve_ip_for_localhost) unless clusters are "disabled" as
# on macOS: with that, and every node on 127.0.0.1, the tests' traffic stays on loopback.
# The cluster runs with token authentication, as docs/deployment.md asks of a real one.
RAY_TEST_ENV = {
    "RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER": "0",
    "RAY_USAGE_STATS_ENABLED": "0",
    "RAY_AUTH_MODE": "token",
}
LOOPBACK = "127.0.0.1"


@pytest.fixture(scope="package", autouse=True)
def ray_on_loopback_with_a_token(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """Every Ray process these tests start (the managers inherit it) stays on loopback
    and needs the cluster's token."""
    token = tmp_path_factory.mktemp("ray-auth") / "auth_token"
    token.write_text(secrets.token_hex(32))
    token.chmod(0o600)
    env = {**RAY_TEST_ENV, "RAY_AUTH_TOKEN_PATH": str(token)}
    saved = {name: os.environ.get(name) for name in env}
    os.environ.update(env)
    yield
    for name, value in saved.items():
        if value is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = value


def require_ray() -> None:
    try:
        import ray  # noqa: F401
    except ImportError:
        message = "Ray is not installed (pip install 'ray==2.60.0')"
        if os.environ.get("CASHWATCH_REQUIRE_RAY") == "1":
            pytest.fail(message)
        pytest.skip(message)


@dataclass
class RayTestCluster:
    cluster: Any
    nodes: dict[str, Any]  # site -> ray._private.node.Node

    @property
    def address(self) -> str:
        return str(self.cluster.address)

    def node_name(self, site: str) -> str:
        """What status shows for a camera on that site's node (host/node id)."""
        import socket

        return f"{socket.gethostname()}/{self.nodes[site].node_id[:8]}"


@pytest.fixture(scope="module")
def ray_cluster() -> Iterator[RayTestCluster]:
    require_ray()
    from ray.cluster_utils import Cluster

    # The head runs no camera (0 CPUs), as in docs/deployment.md. Fast health checks,
    # so a killed node is declared dead in seconds rather than Ray's default ~30 s.
    cluster = Cluster(
        initialize_head=True,
        head_node_args={
            "num_cpus": 0,
            "include_dashboard": False,
            "object_store_memory": OBJECT_STORE_BYTES,
            "node_ip_address": LOOPBACK,
            "_system_config": {
                "health_check_period_ms": 1000,
                "health_check_failure_threshold": 3,
                "health_check_initial_delay_ms": 1000,
            },
        },
    )
    nodes = {
        site: cluster.add_node(
            num_cpus=4,
            labels={SITE_LABEL: site},
            object_store_memory=OBJECT_STORE_BYTES,
            node_ip_address=LOOPBACK,
        )
        for site in ("lobby", "bar")
    }
    try:
        yield RayTestCluster(cluster, nodes)
    finally:
        cluster.shutdown()
