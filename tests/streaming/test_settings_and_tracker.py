"""Kafka settings, secrets redaction and the ack tracker watermark (tier U)."""

from __future__ import annotations

import pytest

from loom_django.streaming.settings import (
    ConsumerSettings,
    KafkaSecuritySettings,
    KafkaSettings,
    ProducerSettings,
    redact,
)
from loom_django.streaming.tracker import AckTracker, GroupToken, complete_all


def test_to_confluent_config_joins_brokers_and_maps_security():
    """streaming §11.23"""
    sec = KafkaSecuritySettings(
        protocol="SASL_SSL",
        sasl_mechanism="SCRAM-SHA-512",
        sasl_username="u",
        sasl_password="p",
        ssl_ca_location="/ca.pem",
    )
    cfg = ProducerSettings(brokers=("a:1", "b:2"), security=sec).to_confluent_config()
    assert cfg["bootstrap.servers"] == "a:1,b:2"
    assert cfg["security.protocol"] == "SASL_SSL"
    assert cfg["sasl.password"] == "p"
    assert cfg["ssl.ca.location"] == "/ca.pem"
    assert "ssl.key.password" not in cfg
    assert cfg["partitioner"] == "murmur2_random"


@pytest.mark.parametrize("key", ["bootstrap.servers", "group.id", "security.protocol"])
def test_extra_may_not_redefine_managed_keys(key):
    """streaming §11.23"""
    with pytest.raises(ValueError, match=key):
        ConsumerSettings(brokers=("a:1",), extra={key: "x"}).to_confluent_config(
            group_id="g", auto_commit=False
        )


def test_named_entries_merge_over_default_and_unknown_ref_raises_naming_it():
    """streaming §11.24, §11.25"""
    kafka = KafkaSettings(consumers={"orders": {"topics": ["orders.v1"]}})
    assert kafka.consumer_for("orders").topics == ("orders.v1",)
    with pytest.raises(KeyError, match="nope"):
        kafka.consumer_for("nope")
    merged = KafkaSettings(consumer={"brokers": ["a:1"]}, consumers={"o": {"topics": ["t"]}})
    assert merged.consumer_for("o").brokers == ("a:1",)


def test_redact_hides_every_secret():
    out = redact({"sasl.password": "s3cret", "x": {"api_token": "t"}, "ssl.key.password": "k"})
    assert "s3cret" not in str(out) and "k'" not in str(out) and "'t'" not in str(out)


def test_tracker_commits_only_the_contiguous_completed_prefix():
    """streaming §11.55"""
    tracker = AckTracker()
    t3, t4, t5 = (tracker.register("t", 0, o) for o in (3, 4, 5))
    assert tracker.to_commit() == {}
    t5.done()
    assert tracker.to_commit() == {}
    t3.done()
    assert tracker.to_commit() == {("t", 0): 4}
    t4.done()
    assert tracker.to_commit() == {("t", 0): 6}


def test_forked_token_needs_every_completion():
    """streaming §11.55"""
    tracker = AckTracker()
    token = tracker.register("t", 2, 9)
    token.fork(3)
    token.done()
    token.done()
    assert tracker.to_commit() == {}
    token.done()
    assert tracker.to_commit() == {("t", 2): 10}


def test_completions_after_revoke_never_commit():
    """streaming §11.63"""
    tracker = AckTracker()
    token = tracker.register("t", 1, 0)
    tracker.revoke({("t", 1)})
    token.done()
    assert tracker.to_commit() == {}


def test_a_record_polled_before_its_partition_was_revoked_is_stale():
    tracker = AckTracker()
    before, kept = tracker.register_many([("t", 1, 0), ("t", 2, 0)])
    tracker.revoke({("t", 1)})
    assert (before.stale, kept.stale) == (True, False)
    assert tracker.stale_inflight == 1
    before.done()
    assert tracker.stale_inflight == 0


def test_a_stale_completion_does_not_move_the_partition_when_it_comes_back():
    """A revoked partition reassigned to the same worker: the old record's completion must
    not count for the redelivered one (its offset would commit before it was written)."""
    tracker = AckTracker()
    old = tracker.register("t", 1, 5)
    tracker.revoke({("t", 1)})
    again, nxt = tracker.register_many([("t", 1, 5), ("t", 1, 6)])
    old.done()
    assert tracker.to_commit() == {}
    nxt.done()
    assert tracker.to_commit() == {}
    again.done()
    assert tracker.to_commit() == {("t", 1): 7}


def test_batch_registration_commits_like_single_registration():
    """streaming §11.55: ``register_many`` + ``done_many`` keep the contiguous-prefix rule."""
    tracker = AckTracker()
    t0, t1, u0, t2 = tracker.register_many([("t", 0, 0), ("t", 0, 1), ("u", 3, 7), ("t", 0, 2)])
    tracker.done_many([t0, t2, u0])
    assert tracker.to_commit() == {("t", 0): 1, ("u", 3): 8}
    tracker.done_many([t1])
    assert tracker.to_commit() == {("t", 0): 3, ("u", 3): 8}


def test_batch_completion_counts_like_single_completion_and_skips_revoked_partitions():
    """streaming §11.55, §11.63: ``done_many`` keeps the in-flight and completed counts of
    ``done`` and never commits for a partition revoked since its records were polled."""
    tracker = AckTracker()
    a, b, c = tracker.register_many([("t", 0, 0), ("t", 0, 1), ("u", 0, 0)])
    tracker.revoke({("u", 0)})
    tracker.done_many([a, b, c])
    assert tracker.to_commit() == {("t", 0): 2}
    assert (tracker.inflight(), tracker.completed_total, tracker.stale_inflight) == (0, 3, 0)


def test_batch_completion_of_a_token_twice_raises():
    """streaming §11.55: a token reaches zero exactly once, in a batch too."""
    tracker = AckTracker()
    (token,) = tracker.register_many([("t", 0, 0)])
    tracker.done_many([token])
    with pytest.raises(RuntimeError, match="completed twice"):
        tracker.done_many([token])


def test_complete_all_completes_group_and_plain_tokens():
    """streaming §11.55: ``complete_all`` completes ack tokens and batch group tokens alike."""
    tracker = AckTracker()
    a, b, c = tracker.register_many([("t", 0, 0), ("t", 0, 1), ("t", 0, 2)])
    group = GroupToken([b, c], 1)
    complete_all([a, group])
    assert tracker.to_commit() == {("t", 0): 3}
    assert tracker.inflight() == 0
