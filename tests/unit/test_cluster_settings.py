"""Pure logic of running on a cluster: address settings, the REST URL, the coordinator line."""

from __future__ import annotations

import pytest

from bridge import addresses
from operators._cluster import rest_url


class FakeJavaConfig:
    """Stands in for a Java Configuration's getString (pure lookup)."""

    def __init__(self, values: dict[str, str]):
        self.values = values

    def getString(self, key, default):  # noqa: N802 - the Java method's name
        return self.values.get(key, default)


def test_addresses_default_to_loopback(monkeypatch):
    for name in (addresses.COORDINATOR_BIND_ENV, addresses.COORDINATOR_HOST_ENV,
                 addresses.TF_HOST_ENV):
        monkeypatch.delenv(name, raising=False)
    assert addresses.coordinator_bind_host() == "127.0.0.1"
    assert addresses.coordinator_advertised_host() is None
    assert addresses.tf_advertised_host() == "127.0.0.1"


def test_addresses_come_from_the_environment(monkeypatch):
    monkeypatch.setenv(addresses.COORDINATOR_BIND_ENV, "0.0.0.0")
    monkeypatch.setenv(addresses.COORDINATOR_HOST_ENV, "driver.example")
    monkeypatch.setenv(addresses.TF_HOST_ENV, "10.0.0.7")
    assert addresses.coordinator_bind_host() == "0.0.0.0"
    assert addresses.coordinator_advertised_host() == "driver.example"
    assert addresses.tf_advertised_host() == "10.0.0.7"


@pytest.mark.parametrize(("values", "url"), [
    ({"rest.address": "jm", "rest.port": "9091"}, "http://jm:9091"),
    ({"jobmanager.rpc.address": "jm2"}, "http://jm2:8081"),
    ({}, None),
])
def test_rest_url_from_the_job_configuration(values, url):
    assert rest_url(FakeJavaConfig(values)) == url
