/**
 * Raw-gRPC helpers for the broker's real-process specs (not used by the broker itself): one
 * BrokerService client per address, reused, and the metadata lookups every spec makes.
 */
import { BrokerServiceClient } from '@tributary/proto';
import type { MetadataResponse } from '@tributary/proto';
import { createClient, unary } from '@tributary/runtime';
import type { TestCluster } from '@tributary/testing';

export interface BrokerClients {
  /** The client of `address`, created on first use. */
  broker(address: string): BrokerServiceClient;
  /** The client of the cluster's broker `id` (at its current address). */
  brokerById(id: number): BrokerServiceClient;
  /** The client of some running broker. */
  anyBroker(): BrokerServiceClient;
  /** Metadata of `topics` (all for []) from some running broker. */
  metadata(topics: string[]): Promise<MetadataResponse>;
  /** Closes every client. */
  close(): void;
}

/** Clients for the brokers of `cluster()` (read at each call: specs start the cluster later). */
export function brokerClients(cluster: () => TestCluster): BrokerClients {
  const clients = new Map<string, BrokerServiceClient>();
  const broker = (address: string): BrokerServiceClient => {
    let c = clients.get(address);
    if (!c) {
      c = createClient(BrokerServiceClient, address);
      clients.set(address, c);
    }
    return c;
  };
  const anyBroker = (): BrokerServiceClient => broker(cluster().brokers.values().next().value!.address);
  return {
    broker,
    brokerById: (id) => broker(cluster().brokers.get(id)!.address),
    anyBroker,
    metadata: (topics) => unary(anyBroker(), 'metadata', { topics }),
    close: () => {
      for (const c of clients.values()) c.close();
      clients.clear();
    },
  };
}

/** The leader of `topic`-`partition` in a metadata answer. */
export const leaderOf = (md: MetadataResponse, topic: string, partition: number): number =>
  md.topics.find((t) => t.name === topic)!.partitions.find((p) => p.index === partition)!.leaderId;
