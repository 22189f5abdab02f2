"""The streaming door: typed Kafka flows compiled once and run by Bytewax through the engine.

Authoring, compiling and ``loom_stream list|check|describe`` need neither Bytewax nor a broker;
only ``run`` (``StreamingRunner``) imports Bytewax.
"""

from __future__ import annotations

from loom_django.streaming.binding import ConfigBinding, Configurable
from loom_django.streaming.compiler import compile_flow
from loom_django.streaming.errors import (
    DecodeError,
    ErrorEnvelope,
    ErrorKind,
    ErrorMessage,
    InlineSuspensionError,
    KafkaDeliveryError,
    StreamCompilationError,
)
from loom_django.streaming.expr import msg, payload
from loom_django.streaming.fanout import (
    Broadcast,
    BroadcastRoute,
    ExpandRoutes,
    Explode,
    PayloadExpander,
)
from loom_django.streaming.flow import StreamFlow
from loom_django.streaming.messages import Message, MessageMeta
from loom_django.streaming.model_sink import IntoModel
from loom_django.streaming.nodes import (
    CollectBatch,
    ContextFactory,
    Drain,
    ErrorRoute,
    ForEach,
    Fork,
    ForkRoute,
    FromMultiTypeTopic,
    FromTopic,
    IntoTopic,
    PartitionGuarantee,
    PartitionPolicy,
    Process,
    ResourceScope,
    RetryPolicy,
    Route,
    Router,
    WindowStrategy,
    With,
    WithAsync,
)
from loom_django.streaming.plan import CompiledPlan
from loom_django.streaming.sinks import IntoSink, SinkPartition
from loom_django.streaming.steps import (
    BatchExpandStep,
    BatchStep,
    ExpandStep,
    RecordStep,
    Step,
    StreamShape,
)
from loom_django.streaming.usecase import InvokeUseCase, UseCaseStep

__all__ = [
    "BatchExpandStep",
    "BatchStep",
    "Broadcast",
    "BroadcastRoute",
    "CollectBatch",
    "CompiledPlan",
    "ConfigBinding",
    "Configurable",
    "ContextFactory",
    "DecodeError",
    "Drain",
    "ErrorEnvelope",
    "ErrorKind",
    "ErrorMessage",
    "ErrorRoute",
    "ExpandRoutes",
    "ExpandStep",
    "Explode",
    "ForEach",
    "Fork",
    "ForkRoute",
    "FromMultiTypeTopic",
    "FromTopic",
    "IntoModel",
    "IntoSink",
    "IntoTopic",
    "InlineSuspensionError",
    "InvokeUseCase",
    "KafkaDeliveryError",
    "Message",
    "MessageMeta",
    "PartitionGuarantee",
    "PartitionPolicy",
    "PayloadExpander",
    "Process",
    "RecordStep",
    "ResourceScope",
    "SinkPartition",
    "RetryPolicy",
    "Route",
    "Router",
    "Step",
    "StreamCompilationError",
    "StreamFlow",
    "StreamShape",
    "UseCaseStep",
    "WindowStrategy",
    "With",
    "WithAsync",
    "compile_flow",
    "msg",
    "payload",
]
