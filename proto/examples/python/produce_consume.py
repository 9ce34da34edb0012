#!/usr/bin/env python3
"""Produce records to a Tributary topic and read them back, with nothing but the generated
gRPC stubs and record_batch.py. An EXAMPLE of the call flow in proto/README.md, not a
client library: one partition, no batching or pipelining, simple retries.

    ./generate.sh                              # stubs into ./gen (once)
    python3 produce_consume.py --bootstrap 127.0.0.1:7200 --topic py-demo --create

Flow: Metadata on a bootstrap broker -> (optionally) CreateTopics on the active controller
found in MetadataResponse.controller_host/port -> Produce to the partition's leader ->
ListOffsets (earliest) -> Fetch long-polls until every record produced is read back.
Retriable partition errors refresh metadata and retry with backoff.
"""
import argparse
import os
import random
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "gen"))

import grpc  # noqa: E402
from tributary.v1 import broker_pb2, broker_pb2_grpc  # noqa: E402
from tributary.v1 import controller_pb2, controller_pb2_grpc  # noqa: E402
from tributary.v1 import errors_pb2  # noqa: E402

from record_batch import Record, decode_batches, encode_batch  # noqa: E402

E = errors_pb2.ErrorCode
RETRIABLE = {
    E.UNKNOWN_TOPIC_OR_PARTITION, E.LEADER_NOT_AVAILABLE, E.NOT_LEADER_OR_FOLLOWER,
    E.REQUEST_TIMED_OUT, E.NETWORK_EXCEPTION, E.NOT_ENOUGH_REPLICAS,
    E.NOT_ENOUGH_REPLICAS_AFTER_APPEND, E.KAFKA_STORAGE_ERROR, E.FENCED_LEADER_EPOCH,
    E.UNKNOWN_LEADER_EPOCH, E.OFFSET_NOT_AVAILABLE, E.CORRUPT_MESSAGE, E.NOT_CONTROLLER,
}
# Fetch answers may carry up to fetch.max.bytes (55 MiB by default); gRPC's default receive
# limit is 4 MiB.
CHANNEL_OPTIONS = [("grpc.max_receive_message_length", 64 * 1024 * 1024)]


class TributaryError(Exception):
    def __init__(self, code, message):
        super().__init__(f"{E.Name(code) if code in E.values() else code}: {message}")
        self.code = code
        self.retriable = code in RETRIABLE


def whole_call_error(err: grpc.RpcError) -> TributaryError:
    """A failed call: the Kafka code travels in the trailer `tributary-error-code`."""
    trailers = dict(err.trailing_metadata() or ())
    code = trailers.get("tributary-error-code")
    if code is not None:
        return TributaryError(int(code), err.details())
    # No Kafka code: a plain gRPC failure; only UNAVAILABLE is worth retrying.
    e = TributaryError(E.UNKNOWN_SERVER_ERROR, f"{err.code().name}: {err.details()}")
    e.retriable = err.code() == grpc.StatusCode.UNAVAILABLE
    return e


def backoff(attempt: int) -> None:
    # 300 ms doubling, 20 % jitter, 30 s at most (the SDK's defaults).
    delay = min(0.3 * 2 ** attempt, 30.0)
    time.sleep(delay * random.uniform(0.8, 1.2))


class Cluster:
    def __init__(self, bootstrap: str):
        self.bootstrap = bootstrap
        self.channels = {}
        self.metadata = None

    def stub(self, address: str, stub_class):
        if address not in self.channels:
            self.channels[address] = grpc.insecure_channel(address, options=CHANNEL_OPTIONS)
        return stub_class(self.channels[address])

    def refresh(self, topics=()):
        addresses = [self.bootstrap]
        if self.metadata:
            addresses += [f"{b.host}:{b.port}" for b in self.metadata.brokers]
        last = None
        for address in addresses:  # any broker answers Metadata
            try:
                stub = self.stub(address, broker_pb2_grpc.BrokerServiceStub)
                self.metadata = stub.Metadata(broker_pb2.MetadataRequest(topics=list(topics)), timeout=10)
                return self.metadata
            except grpc.RpcError as err:
                last = whole_call_error(err)
        raise last

    def leader_of(self, topic: str, partition: int):
        """(address, leader_epoch) of the partition's leader, refreshing metadata as needed."""
        for attempt in range(8):
            md = self.refresh([topic])
            t = next((t for t in md.topics if t.name == topic), None)
            if t and t.error_code == E.NONE:
                p = next((p for p in t.partitions if p.index == partition), None)
                if p and p.leader_id >= 0:
                    b = next((b for b in md.brokers if b.node_id == p.leader_id), None)
                    if b:
                        return f"{b.host}:{b.port}", p.leader_epoch
            elif t and t.error_code not in RETRIABLE:
                raise TributaryError(t.error_code, f"topic '{topic}'")
            backoff(attempt)
        raise TributaryError(E.LEADER_NOT_AVAILABLE, f"{topic}-{partition} has no leader")

    def admin(self):
        md = self.metadata or self.refresh()
        if not md.controller_host:
            raise TributaryError(E.NOT_CONTROLLER, "no active controller known yet; retry")
        return self.stub(f"{md.controller_host}:{md.controller_port}", controller_pb2_grpc.AdminServiceStub)


def create_topic(cluster: Cluster, topic: str, partitions: int, replication_factor: int) -> None:
    for attempt in range(8):
        try:
            cluster.refresh()
            res = cluster.admin().CreateTopics(controller_pb2.CreateTopicsRequest(topics=[
                controller_pb2.CreatableTopic(name=topic, num_partitions=partitions,
                                              replication_factor=replication_factor)]), timeout=30)
            r = res.results[0]
            if r.error_code in (E.NONE, E.TOPIC_ALREADY_EXISTS):
                print(f"topic {topic}: {E.Name(r.error_code)}")
                return
            raise TributaryError(r.error_code, r.error_message)
        except grpc.RpcError as err:
            e = whole_call_error(err)  # NOT_CONTROLLER from a standby: find the active one again
            if not e.retriable:
                raise e
            backoff(attempt)
    raise TributaryError(E.NOT_CONTROLLER, "could not reach the active controller")


def call_partition(cluster: Cluster, topic: str, partition: int, send):
    """Runs `send(stub, leader_epoch)` against the leader, retrying retriable errors; `send`
    returns (error_code, error_message, result)."""
    for attempt in range(10):
        address, epoch = cluster.leader_of(topic, partition)
        try:
            code, message, result = send(cluster.stub(address, broker_pb2_grpc.BrokerServiceStub), epoch)
        except grpc.RpcError as err:
            e = whole_call_error(err)
            code, message, result = e.code, str(e), None
            if not e.retriable:
                raise e
        if code == E.NONE:
            return result
        if code not in RETRIABLE:
            raise TributaryError(code, message)
        print(f"  retrying after {E.Name(code)}: {message}", file=sys.stderr)
        backoff(attempt)
    raise TributaryError(code, message)


def produce(cluster: Cluster, topic: str, partition: int, records) -> int:
    batch = encode_batch(records)

    def send(stub, _epoch):
        res = stub.Produce(broker_pb2.ProduceRequest(
            acks=-1,  # always set acks: the proto3 default 0 means "don't care"
            timeout_ms=30000,
            topics=[broker_pb2.ProduceTopicData(name=topic, partitions=[
                broker_pb2.ProducePartitionData(index=partition, records=batch)])]), timeout=30)
        p = res.topics[0].partitions[0]
        return p.error_code, p.error_message, p.base_offset

    return call_partition(cluster, topic, partition, send)


def list_offset(cluster: Cluster, topic: str, partition: int, timestamp: int) -> int:
    def send(stub, epoch):
        res = stub.ListOffsets(broker_pb2.ListOffsetsRequest(replica_id=-1, topics=[
            broker_pb2.ListOffsetsTopic(name=topic, partitions=[broker_pb2.ListOffsetsPartition(
                index=partition, current_leader_epoch=epoch, timestamp=timestamp)])]), timeout=10)
        p = res.topics[0].partitions[0]
        return p.error_code, p.error_message, p.offset

    return call_partition(cluster, topic, partition, send)


def consume(cluster: Cluster, topic: str, partition: int, start: int, until: int):
    """Yields records from `start` until offset `until` (exclusive) has been passed."""
    position = start
    while position < until:
        def send(stub, epoch):
            res = stub.Fetch(broker_pb2.FetchRequest(
                replica_id=-1,  # a consumer: MUST be -1 (0 would be broker 0)
                max_wait_ms=500, min_bytes=1, max_bytes=1024 * 1024,
                topics=[broker_pb2.FetchTopic(name=topic, partitions=[broker_pb2.FetchPartition(
                    index=partition, current_leader_epoch=epoch, fetch_offset=position,
                    partition_max_bytes=1024 * 1024)])]), timeout=10)
            p = res.topics[0].partitions[0]
            return p.error_code, p.error_message, p

        p = call_partition(cluster, topic, partition, send)
        for record in decode_batches(p.records):
            if record.offset < position:  # a batch may start before the offset asked for
                continue
            yield record
            position = record.offset + 1


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--bootstrap", default=os.environ.get("TRIBUTARY_BOOTSTRAP", "127.0.0.1:7200").split(",")[0])
    ap.add_argument("--topic", default="py-demo")
    ap.add_argument("--partition", type=int, default=0)
    ap.add_argument("--count", type=int, default=10)
    ap.add_argument("--create", action="store_true", help="create the topic first (3 partitions, RF 1)")
    args = ap.parse_args()

    cluster = Cluster(args.bootstrap)
    md = cluster.refresh()
    print(f"cluster {md.cluster_id}: brokers {[b.node_id for b in md.brokers]}, controller {md.controller_id} at {md.controller_host}:{md.controller_port}")
    if args.create:
        create_topic(cluster, args.topic, 3, 1)

    start = list_offset(cluster, args.topic, args.partition, -1)  # latest: where ours will land
    records = [Record(f"key-{i}".encode(), f"hello {i} from Python".encode(), [("lang", b"python")])
               for i in range(args.count)]
    base = produce(cluster, args.topic, args.partition, records)
    print(f"produced {len(records)} records to {args.topic}-{args.partition} at offsets {base}..{base + len(records) - 1} (log end was {start})")

    earliest = list_offset(cluster, args.topic, args.partition, -2)
    got = [r for r in consume(cluster, args.topic, args.partition, max(base, earliest), base + len(records))]
    for r in got:
        print(f"  offset {r.offset} key={r.key!r} value={r.value!r} headers={r.headers}")
    ok = [(r.key, r.value) for r in got] == [(r.key, r.value) for r in records]
    print("read back every record, in order" if ok else "MISMATCH between produced and consumed records")
    return 0 if ok else 1


if __name__ == "__main__":
    try:
        sys.exit(main())
    except TributaryError as e:
        print(f"error: {e}", file=sys.stderr)
        sys.exit(1)
