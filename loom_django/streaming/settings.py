"""Typed ``kafka`` and ``streaming.runtime`` settings, resolved once per flow (spec §4).

Secrets never leave this module in clear: :func:`redact` masks every key that holds one.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Literal, TypeVar

import msgspec

from loom_django.streaming.errors import InvalidFlowConfig

__all__ = [
    "DEFAULT_CODEC",
    "PRODUCER_DEFAULTS",
    "ConsumerSettings",
    "KafkaSecuritySettings",
    "KafkaSettings",
    "ProducerSettings",
    "RuntimeConfig",
    "redact",
]

DEFAULT_CODEC = "msgpack"
"""Codec used when neither the node, the named entry nor ``kafka.codec`` chooses one."""

PRODUCER_DEFAULTS: dict[str, Any] = {
    "enable.idempotence": True,
    "acks": "all",
    "linger.ms": 5,
    "partitioner": "murmur2_random",
}
"""Producer settings applied unless ``extra`` overrides them (§3.5)."""

_T = TypeVar("_T")

_SECRET_MARKERS = ("password", "secret", "token")
_MANAGED_COMMON = ("bootstrap.servers", "client.id")
_SECURITY_KEYS = (
    "security.protocol",
    "sasl.mechanism",
    "sasl.username",
    "sasl.password",
    "ssl.ca.location",
    "ssl.certificate.location",
    "ssl.key.location",
    "ssl.key.password",
    "ssl.endpoint.identification.algorithm",
)


class KafkaSecuritySettings(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """``security``: protocol, SASL and TLS settings, mapped to librdkafka keys."""

    protocol: Literal["PLAINTEXT", "SSL", "SASL_SSL", "SASL_PLAINTEXT"] = "PLAINTEXT"
    sasl_mechanism: str | None = None
    sasl_username: str | None = None
    sasl_password: str | None = None
    ssl_ca_location: str | None = None
    ssl_certificate_location: str | None = None
    ssl_key_location: str | None = None
    ssl_key_password: str | None = None
    ssl_endpoint_identification_algorithm: str | None = None

    def to_confluent(self) -> dict[str, Any]:
        """librdkafka keys for the values that are set."""
        pairs = {
            "security.protocol": self.protocol,
            "sasl.mechanism": self.sasl_mechanism,
            "sasl.username": self.sasl_username,
            "sasl.password": self.sasl_password,
            "ssl.ca.location": self.ssl_ca_location,
            "ssl.certificate.location": self.ssl_certificate_location,
            "ssl.key.location": self.ssl_key_location,
            "ssl.key.password": self.ssl_key_password,
            "ssl.endpoint.identification.algorithm": self.ssl_endpoint_identification_algorithm,
        }
        return {k: v for k, v in pairs.items() if v is not None}


def _check_extra(extra: Mapping[str, Any], managed: tuple[str, ...], where: str) -> None:
    clash = sorted(k for k in extra if k in managed or k in _SECURITY_KEYS)
    if clash:
        raise ValueError(f"{where}.extra may not redefine managed keys: {', '.join(clash)}")


class ProducerSettings(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """A producer block (``kafka.producer`` or ``kafka.producers.<name>``)."""

    brokers: tuple[str, ...] = ()
    client_id: str | None = None
    topic: str | None = None
    codec: str | None = None
    security: KafkaSecuritySettings | None = None
    extra: dict[str, Any] = msgspec.field(default_factory=dict)

    def to_confluent_config(self) -> dict[str, Any]:
        """The librdkafka configuration (defaults of §3.5, then ``extra``).

        Raises:
            ValueError: ``extra`` redefines a managed key.
        """
        _check_extra(self.extra, _MANAGED_COMMON, "producer")
        config: dict[str, Any] = {"bootstrap.servers": ",".join(self.brokers)}
        if self.client_id:
            config["client.id"] = self.client_id
        config.update(PRODUCER_DEFAULTS)
        if self.security is not None:
            config.update(self.security.to_confluent())
        config.update(self.extra)
        return config


class ConsumerSettings(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """A consumer block (``kafka.consumer`` or ``kafka.consumers.<name>``)."""

    brokers: tuple[str, ...] = ()
    group_id: str | None = None
    topics: tuple[str, ...] = ()
    codec: str | None = None
    auto_offset_reset: Literal["earliest", "latest"] = "earliest"
    poll_timeout_ms: int = 100
    max_poll_records: int = 500
    enable_auto_commit: bool | None = None
    security: KafkaSecuritySettings | None = None
    extra: dict[str, Any] = msgspec.field(default_factory=dict)

    def to_confluent_config(self, *, group_id: str, auto_commit: bool) -> dict[str, Any]:
        """The librdkafka configuration for a consumer of ``group_id``.

        Raises:
            ValueError: ``extra`` redefines a managed key.
        """
        _check_extra(
            self.extra,
            (*_MANAGED_COMMON, "group.id", "auto.offset.reset", "enable.auto.commit"),
            "consumer",
        )
        config: dict[str, Any] = {
            "bootstrap.servers": ",".join(self.brokers),
            "group.id": group_id,
            "auto.offset.reset": self.auto_offset_reset,
            "enable.auto.commit": auto_commit,
            "enable.auto.offset.store": True,
        }
        if self.security is not None:
            config.update(self.security.to_confluent())
        config.update(self.extra)
        return config


class KafkaSettings(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """The ``kafka`` section: defaults plus named entries by logical reference.

    ``transport`` chooses the client library: ``confluent`` (librdkafka, the default) or
    ``memory`` (the in-memory test transport, spec §8.2).
    """

    transport: Literal["confluent", "memory"] = "confluent"
    codec: str = DEFAULT_CODEC
    consumer: dict[str, Any] = msgspec.field(default_factory=dict)
    producer: dict[str, Any] = msgspec.field(default_factory=dict)
    consumers: dict[str, dict[str, Any]] = msgspec.field(default_factory=dict)
    producers: dict[str, dict[str, Any]] = msgspec.field(default_factory=dict)

    def consumer_for(self, ref: str) -> ConsumerSettings:
        """The named consumer deep-merged over the default block (``group_id`` not merged).

        Raises:
            KeyError: neither a named entry nor a default block exists (names ``ref``).
            InvalidFlowConfig: a value has the wrong type.
        """
        if ref not in self.consumers and not self.consumer:
            raise KeyError(f"no kafka consumer settings for {ref!r}")
        base = {k: v for k, v in self.consumer.items() if k != "group_id"}
        merged = _deep_merge(base, self.consumers.get(ref, {}))
        return _convert(merged, ConsumerSettings, f"kafka.consumers.{ref}")

    def producer_for(self, ref: str) -> ProducerSettings:
        """The named producer deep-merged over the default block.

        Raises:
            KeyError: neither a named entry nor a default block exists (names ``ref``).
            InvalidFlowConfig: a value has the wrong type.
        """
        if ref not in self.producers and not self.producer:
            raise KeyError(f"no kafka producer settings for {ref!r}")
        merged = _deep_merge(dict(self.producer), self.producers.get(ref, {}))
        return _convert(merged, ProducerSettings, f"kafka.producers.{ref}")


class RuntimeConfig(msgspec.Struct, kw_only=True, forbid_unknown_fields=True, frozen=True):
    """``streaming.runtime`` (then ``streaming.flows.<flow>.runtime``) after validation."""

    workers_per_process: int = 1
    epoch_interval_ms: int | None = None
    process_id: int | None = None
    addresses: list[str] | None = None
    recovery: dict[str, Any] | None = None
    async_backend: Literal["asyncio", "trio"] = "asyncio"
    use_uvloop: bool = False
    force_shutdown_timeout_ms: int | None = None
    commit_mode: Literal["after_sink", "auto"] = "after_sink"
    commit_interval_ms: int = 1000
    max_inflight_messages: int = 10_000
    shutdown_timeout_ms: int = 30_000
    delivery_timeout_ms: int = 30_000
    metrics_port: int | None = None
    db_lanes: int | None = None
    db_max_connections: int | None = None
    db_idle_close_s: float | None = 60.0
    gc_threshold: int | None = 50_000

    def problems(self) -> list[str]:
        """Every invalid value, as ``streaming.runtime.<key>: <problem>``."""
        out: list[str] = []
        for key in (
            "workers_per_process",
            "commit_interval_ms",
            "max_inflight_messages",
            "shutdown_timeout_ms",
            "delivery_timeout_ms",
        ):
            if getattr(self, key) < 1:
                out.append(f"streaming.runtime.{key} must be >= 1 (got {getattr(self, key)})")
        if self.gc_threshold is not None and self.gc_threshold < 1:
            out.append(
                f"streaming.runtime.gc_threshold must be >= 1 or null (got {self.gc_threshold})"
            )
        if self.db_lanes is not None and self.db_lanes < 1:
            out.append(f"streaming.runtime.db_lanes must be >= 1 (got {self.db_lanes})")
        if self.process_id is not None or self.addresses:
            out.append(
                "streaming.runtime.process_id/addresses: Bytewax multi-process clusters are not "
                "supported with Kafka group sources; run more processes in the same group"
            )
        if self.recovery:
            out.append(
                "streaming.runtime.recovery: Bytewax recovery is not supported with Kafka group "
                "sources; committed offsets are the recovery point"
            )
        return out


def _deep_merge(base: dict[str, Any], over: Mapping[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for key, value in over.items():
        if isinstance(value, Mapping) and isinstance(out.get(key), Mapping):
            out[key] = _deep_merge(dict(out[key]), value)
        else:
            out[key] = value
    return out


def _convert(data: Mapping[str, Any], cls: type[_T], where: str) -> _T:
    try:
        return msgspec.convert(dict(data), cls, strict=False)
    except msgspec.ValidationError as exc:
        raise InvalidFlowConfig(f"{where}: {exc}") from None


def redact(config: Any) -> Any:
    """A copy of ``config`` (nested mappings/lists) with every secret value replaced by ``***``."""
    if isinstance(config, Mapping):
        return {
            k: "***"
            if any(m in str(k).lower() for m in _SECRET_MARKERS) and v is not None
            else redact(v)
            for k, v in config.items()
        }
    if isinstance(config, list | tuple):
        return [redact(v) for v in config]
    return config
