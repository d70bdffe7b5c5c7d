#!/bin/bash
# Topic-init job (runs in the apache/kafka image): every event topic and its dead-letter topic,
# replicated to all three brokers with min.insync.replicas=2, with PARTITIONS partitions (enough
# for `--scale assignment-consumer=N`, N <= PARTITIONS). Safe to run again: existing topics are
# kept, and grown to PARTITIONS if they have fewer. The list must match shared/events.TOPICS
# (tests/unit/cli/test_compose.py checks it).
set -euo pipefail

BOOTSTRAP="${KAFKA_BOOTSTRAP_SERVERS:?KAFKA_BOOTSTRAP_SERVERS is not set}"
PARTITIONS="${PARTITIONS:-12}"
REPLICATION="${REPLICATION_FACTOR:-3}"
MIN_ISR="${MIN_INSYNC_REPLICAS:-2}"
PREFIX="${KAFKA_TOPIC_PREFIX:-}"
# Dead letters wait for a fix and a replay (python -m shared.cli dlq replay): keep them 30 days.
DLQ_RETENTION_MS="${DLQ_RETENTION_MS:-2592000000}"
TOPICS=(clue-received case-assigned case-escalated case-closed clue-followed-up clue-notified)
KAFKA_TOPICS=/opt/kafka/bin/kafka-topics.sh

for attempt in $(seq 1 60); do
    if "$KAFKA_TOPICS" --bootstrap-server "$BOOTSTRAP" --list >/dev/null 2>&1; then
        break
    fi
    [ "$attempt" -lt 60 ] || { echo "create-topics: no broker answers at $BOOTSTRAP" >&2; exit 1; }
    sleep 2
done

create() {
    local name="$1"; shift
    "$KAFKA_TOPICS" --bootstrap-server "$BOOTSTRAP" --create --if-not-exists --topic "$name" \
        --partitions "$PARTITIONS" --replication-factor "$REPLICATION" \
        --config min.insync.replicas="$MIN_ISR" --config unclean.leader.election.enable=false "$@"
    local have
    have=$("$KAFKA_TOPICS" --bootstrap-server "$BOOTSTRAP" --describe --topic "$name" \
           | grep -c "Partition: " || true)
    if [ "$have" -lt "$PARTITIONS" ]; then
        "$KAFKA_TOPICS" --bootstrap-server "$BOOTSTRAP" --alter --topic "$name" --partitions "$PARTITIONS"
    fi
    echo "create-topics: $name ready ($PARTITIONS partitions, replication $REPLICATION, min ISR $MIN_ISR)"
}

for topic in "${TOPICS[@]}"; do
    create "${PREFIX}${topic}"
    create "${PREFIX}${topic}.dlq" --config retention.ms="$DLQ_RETENTION_MS"
done
