"""A guard against FLINK-23020: planner calls that land on a fresh py4j thread (driver side).

Each py4j connection is served by its own Java thread, and PyFlink's client opens a second
connection whenever two Python threads call Java at once (for instance, when a background
thread releases Java objects while the main thread waits in a collect). Later calls may then
run on that other Java thread. Flink's planner keeps Calcite's metadata provider in a
``ThreadLocal`` (``RelMetadataQueryBase.THREAD_PROVIDERS``) that is set only on the thread that
first built the planner, so SQL with a set operation fails on any other thread with
``NullPointerException: metadataHandlerProvider``.

:func:`ensure_planner_thread` sets that ``ThreadLocal`` on the Java thread serving the current
connection, if it is unset, with the provider Flink itself installs. Sequential calls from one
Python thread reuse that connection, so the planner calls right after the guard are safe.
"""

from __future__ import annotations

import weakref
from typing import Any

from pyflink.java_gateway import get_gateway
from pyflink.table import StreamTableEnvironment

__all__ = ["ensure_planner_thread"]

_QUERY_BASE = "org.apache.calcite.rel.metadata.RelMetadataQueryBase"
_JANINO = "org.apache.calcite.rel.metadata.JaninoRelMetadataProvider"
_PROVIDER_TYPE = "org.apache.calcite.rel.metadata.RelMetadataProvider"
_FLINK_PROVIDER = "org.apache.flink.table.planner.plan.metadata.FlinkDefaultRelMetadataProvider"

# Per planner class loader: (the ThreadLocal, the provider value to put in it).
_cache: dict[int, tuple[Any, Any]] = {}
# The same pair for each environment seen, so later calls skip the class-loader lookups.
_by_env: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def _load(name: str, loader: Any) -> Any:
    return get_gateway().jvm.java.lang.Class.forName(name, True, loader)


def _flink_provider(provider_class: Any) -> Any:
    """``FlinkDefaultRelMetadataProvider.INSTANCE()``: a Scala object's static forwarder."""
    gateway = get_gateway()
    no_types = gateway.new_array(gateway.jvm.java.lang.Class, 0)
    no_arguments = gateway.new_array(gateway.jvm.java.lang.Object, 0)
    return provider_class.getMethod("INSTANCE", no_types).invoke(None, no_arguments)


def _thread_local_and_value(loader: Any) -> tuple[Any, Any]:
    gateway = get_gateway()
    thread_local = _load(_QUERY_BASE, loader).getField("THREAD_PROVIDERS").get(None)
    flink_provider = _flink_provider(_load(_FLINK_PROVIDER, loader))
    parameter_types = gateway.new_array(gateway.jvm.java.lang.Class, 1)
    parameter_types[0] = _load(_PROVIDER_TYPE, loader)
    arguments = gateway.new_array(gateway.jvm.java.lang.Object, 1)
    arguments[0] = flink_provider
    value = _load(_JANINO, loader).getMethod("of", parameter_types).invoke(None, arguments)
    return thread_local, value


def ensure_planner_thread(t_env: StreamTableEnvironment) -> None:
    """Give the Java thread of the current py4j connection the planner's metadata provider.

    Costs one Java call when the thread already has it (the lookups are cached per
    environment), since operators call it before every planning step.
    """
    found = _by_env.get(t_env)
    if found is None:
        loader = t_env._j_tenv.getPlanner().getClass().getClassLoader()
        key = loader.hashCode()
        if key not in _cache:
            _cache[key] = _thread_local_and_value(loader)
        found = _by_env[t_env] = _cache[key]
    thread_local, value = found
    if thread_local.get() is None:
        thread_local.set(value)
