/**
 * group.proto's JoinGroup / SyncGroup requests as `ConsumerGroup` inputs: the one mapping the
 * group coordinator and test doubles of it share. Protocol metadata and assignments are
 * copied out of the request (decoded gRPC messages may be views of a reused buffer).
 */
import type { JoinGroupRequest, SyncGroupRequest } from '@tributary/proto';
import type { JoinGroupInput, SyncGroupInput } from './group';

/**
 * A JoinGroup request from `clientHost`. A rebalance timeout of 0 or less (a client that
 * does not send one) reads as the session timeout, as Kafka's JoinGroup v0 does.
 */
export function joinGroupInput(req: JoinGroupRequest, clientHost: string): JoinGroupInput {
  return {
    memberId: req.memberId,
    groupInstanceId: req.groupInstanceId,
    clientId: req.clientId,
    clientHost,
    sessionTimeoutMs: req.sessionTimeoutMs,
    rebalanceTimeoutMs: req.rebalanceTimeoutMs > 0 ? req.rebalanceTimeoutMs : req.sessionTimeoutMs,
    protocolType: req.protocolType,
    protocols: req.protocols.map((p) => ({ name: p.name, metadata: Buffer.from(p.metadata) })),
  };
}

/** A SyncGroup request (the leader's assignments copied). */
export function syncGroupInput(req: SyncGroupRequest): SyncGroupInput {
  return {
    generationId: req.generationId,
    memberId: req.memberId,
    groupInstanceId: req.groupInstanceId,
    protocolType: req.protocolType,
    protocolName: req.protocolName,
    assignments: req.assignments.map((a) => ({ memberId: a.memberId, assignment: Buffer.from(a.assignment) })),
  };
}
