import { ErrorCode, FetchPartitionResponse, ProduceRequest } from './index';

describe('generated wire types', () => {
  it('carries int64 as bigint and bytes as Buffer', () => {
    const encoded = FetchPartitionResponse.encode({
      index: 3,
      errorCode: ErrorCode.OFFSET_OUT_OF_RANGE,
      errorMessage: 'offset 9007199254740993 is out of range',
      highWatermark: 9007199254740993n, // 2^53 + 1: not representable as a number
      logStartOffset: 0n,
      records: Buffer.from([1, 2, 3]),
    }).finish();
    const decoded = FetchPartitionResponse.decode(encoded);
    expect(decoded.highWatermark).toBe(9007199254740993n);
    expect(Buffer.isBuffer(decoded.records)).toBe(true);
    expect(decoded.errorCode).toBe(ErrorCode.OFFSET_OUT_OF_RANGE);
  });

  it('keeps Kafka error code numbers', () => {
    expect(ErrorCode.CORRUPT_MESSAGE).toBe(2);
    expect(ErrorCode.NOT_LEADER_OR_FOLLOWER).toBe(6);
    expect(ErrorCode.KAFKA_STORAGE_ERROR).toBe(56);
    expect(ErrorCode.UNKNOWN_SERVER_ERROR).toBe(-1);
  });

  it('rejects truncated bytes with an error, not a crash', () => {
    const full = ProduceRequest.encode({
      acks: -1,
      timeoutMs: 30000,
      topics: [{ name: 'orders', partitions: [{ index: 0, records: Buffer.alloc(64, 7) }] }],
    }).finish();
    expect(() => ProduceRequest.decode(full.subarray(0, full.length - 10))).toThrow();
  });
});
