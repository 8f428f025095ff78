"""Which driver settings `spark_session` adds to keep a local run quiet (`_quiet_driver_conf`),
and how the CLI tells a driver JVM that died (`_py4j_network_error`). No JVM: a tmp conf folder
stands for the Spark installation's."""

from __future__ import annotations

import socket
from pathlib import Path
from types import SimpleNamespace

import pytest

from analytics.cli import _py4j_network_error
from analytics.spark import _quiet_driver_conf

PROFILE_OPTION = "spark.driver.extraJavaOptions"
LOOPBACK = {"spark.driver.bindAddress": "127.0.0.1", "spark.driver.host": "127.0.0.1"}


@pytest.fixture
def conf_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty SPARK_CONF_DIR, and no SPARK_LOCAL_IP/SPARK_LOCAL_HOSTNAME of the machine's."""
    folder = tmp_path / "conf"
    folder.mkdir()
    monkeypatch.setenv("SPARK_CONF_DIR", str(folder))
    monkeypatch.delenv("SPARK_LOCAL_IP", raising=False)
    monkeypatch.delenv("SPARK_LOCAL_HOSTNAME", raising=False)
    # Spark ships these in conf/: templates, read by nothing.
    (folder / "log4j2.properties.template").write_text("rootLogger.level = info\n")
    (folder / "spark-defaults.conf.template").write_text("# spark.master spark://x:7077\n")
    return folder


@pytest.mark.parametrize("master", ["local", "local[1]", "local[4]", "local[*]", "local[2,3]"])
def test_a_local_master_of_a_bare_installation_gets_the_quiet_profile(
    conf_dir: Path, master: str
) -> None:
    quiet = _quiet_driver_conf(master)
    assert quiet.pop(PROFILE_OPTION).endswith("/analytics/data/spark-log4j2.properties")
    assert quiet == LOOPBACK


@pytest.mark.parametrize(
    "master", ["yarn", "spark://head:7077", "k8s://https://api:6443", "local-cluster[2,1,1024]"]
)
def test_a_cluster_master_is_left_alone(conf_dir: Path, master: str) -> None:
    # Before: every master got the profile as spark.driver.extraJavaOptions, which replaced
    # the cluster's own from spark-defaults.conf (GC flags, -XX:OnOutOfMemoryError, ...).
    assert _quiet_driver_conf(master) == {}


@pytest.mark.parametrize(
    "own",
    [
        "spark-defaults.conf",
        "log4j2.properties",
        "log4j2.xml",
        "log4j2.yaml",
        "log4j2.yml",
        "log4j2.json",
        "log4j2-test.xml",
    ],
)
@pytest.mark.parametrize("via", ["SPARK_CONF_DIR", "SPARK_HOME"])
def test_an_installation_with_a_set_up_of_its_own_keeps_it(
    conf_dir: Path, monkeypatch: pytest.MonkeyPatch, own: str, via: str
) -> None:
    # Before: only a log4j2.properties kept the installation's logging, and a
    # spark-defaults.conf lost its spark.driver.extraJavaOptions to the profile.
    if via == "SPARK_HOME":
        (conf_dir.parent / "home").mkdir()
        conf_dir = conf_dir.rename(conf_dir.parent / "home" / "conf")
        monkeypatch.delenv("SPARK_CONF_DIR")
        monkeypatch.setenv("SPARK_HOME", str(conf_dir.parent))
    (conf_dir / own).write_text("# the installation's\n")
    assert _quiet_driver_conf("local[2]") == LOOPBACK


def test_spark_local_ip_chooses_the_address(
    conf_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SPARK_LOCAL_IP", "10.1.2.3")
    assert set(_quiet_driver_conf("local")) == {PROFILE_OPTION}


def test_a_dead_driver_jvm_is_told_apart_from_other_errors() -> None:
    py4j_protocol = pytest.importorskip("py4j.protocol", reason="pyspark is not installed")
    assert _py4j_network_error(py4j_protocol.Py4JNetworkError("Answer from Java side is empty"))
    # Unused (F401): a py4j frame needs py4j loaded.
    from py4j import java_gateway  # type: ignore[import-untyped]  # noqa: F401

    refused = _refused_in_a_py4j_frame()
    assert _py4j_network_error(refused)
    # The same error from anywhere else (an s3a endpoint, say) is not the driver's death.
    with pytest.raises(ConnectionRefusedError) as elsewhere:
        socket.create_connection(("127.0.0.1", _closed_port()), timeout=5)
    assert not _py4j_network_error(elsewhere.value)
    assert not _py4j_network_error(py4j_protocol.Py4JError("An error occurred"))
    assert not _py4j_network_error(ValueError("x"))


def _closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _refused_in_a_py4j_frame() -> ConnectionRefusedError:
    """py4j's own connect() to a port nothing listens on, as after the JVM died."""
    from py4j.clientserver import (  # type: ignore[import-untyped]
        ClientServerConnection,
        JavaParameters,
        PythonParameters,
    )

    connection = ClientServerConnection(
        JavaParameters(address="127.0.0.1", port=_closed_port(), auto_convert=False),
        PythonParameters(),
        SimpleNamespace(pool=None),  # what connect_to_java_server never reads
        None,
    )
    try:
        connection.connect_to_java_server()
    except ConnectionRefusedError as error:
        return error
    raise AssertionError("a closed port accepted a connection")
