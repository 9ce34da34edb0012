import { Metadata } from '@grpc/grpc-js';
import { ErrorCode, TributaryError } from '@tributary/records';
import { fromGrpcError, GrpcStatusError, grpcStatusForErrorCode, Status, toGrpcStatus } from './grpc-errors';

describe('grpcStatusForErrorCode', () => {
  it('maps Kafka codes to the gRPC statuses of the design', () => {
    expect(grpcStatusForErrorCode(ErrorCode.UNKNOWN_TOPIC_OR_PARTITION)).toBe(Status.NOT_FOUND);
    expect(grpcStatusForErrorCode(ErrorCode.INVALID_CONFIG)).toBe(Status.INVALID_ARGUMENT);
    expect(grpcStatusForErrorCode(ErrorCode.NOT_CONTROLLER)).toBe(Status.UNAVAILABLE);
    expect(grpcStatusForErrorCode(ErrorCode.TOPIC_AUTHORIZATION_FAILED)).toBe(Status.PERMISSION_DENIED);
    expect(grpcStatusForErrorCode(ErrorCode.SASL_AUTHENTICATION_FAILED)).toBe(Status.UNAUTHENTICATED);
    expect(grpcStatusForErrorCode(ErrorCode.TOPIC_ALREADY_EXISTS)).toBe(Status.ALREADY_EXISTS);
    expect(grpcStatusForErrorCode(ErrorCode.OFFSET_OUT_OF_RANGE)).toBe(Status.OUT_OF_RANGE);
    expect(grpcStatusForErrorCode(999 as ErrorCode)).toBe(Status.UNKNOWN);
  });

  it('sends every retriable code as UNAVAILABLE except the two named exceptions', () => {
    const codes = Object.values(ErrorCode).filter((v): v is ErrorCode => typeof v === 'number');
    const unavailableButNotRetriable: string[] = [];
    for (const code of codes) {
      const retriable = new TributaryError(code, 'x').retriable;
      const status = grpcStatusForErrorCode(code);
      if (code === ErrorCode.UNKNOWN_TOPIC_OR_PARTITION || code === ErrorCode.CORRUPT_MESSAGE) continue;
      if (retriable) expect([ErrorCode[code], status]).toEqual([ErrorCode[code], Status.UNAVAILABLE]);
      else if (status === Status.UNAVAILABLE) unavailableButNotRetriable.push(ErrorCode[code]);
    }
    // Unavailability that Kafka does not ask clients to retry blindly (records' retriable list).
    expect(unavailableButNotRetriable.sort()).toEqual(['BROKER_NOT_AVAILABLE', 'REPLICA_NOT_AVAILABLE']);
  });
});

describe('toGrpcStatus / fromGrpcError', () => {
  it('round-trips a TributaryError through status and metadata', () => {
    const s = toGrpcStatus(new TributaryError(ErrorCode.REBALANCE_IN_PROGRESS, 'rejoin'));
    expect(s).toMatchObject({ code: Status.ABORTED, details: 'rejoin', unexpected: false });
    expect(s.metadata.get('tributary-error-code')).toEqual(['27']);
    const back = fromGrpcError({ code: s.code, details: s.details, metadata: s.metadata, message: 'x' }) as TributaryError;
    expect(back).toBeInstanceOf(TributaryError);
    expect(back.code).toBe(ErrorCode.REBALANCE_IN_PROGRESS);
    expect(back.message).toBe('rejoin');
    expect(back.retriable).toBe(false);
  });

  it('keeps a GrpcStatusError as it is and reports foreign errors as unexpected INTERNAL', () => {
    const s = toGrpcStatus(new GrpcStatusError(Status.FAILED_PRECONDITION, 'bad version', { 'tributary-coordination-error': 'BAD_VERSION' }));
    expect(s).toMatchObject({ code: Status.FAILED_PRECONDITION, details: 'bad version', unexpected: false });
    expect(s.metadata.get('tributary-coordination-error')).toEqual(['BAD_VERSION']);
    expect(toGrpcStatus(new RangeError('oops'))).toMatchObject({ code: Status.INTERNAL, details: 'oops', unexpected: true });
    expect(toGrpcStatus('thrown string')).toMatchObject({ code: Status.INTERNAL, details: 'thrown string' });
  });

  it('turns other statuses into GrpcStatusError and leaves non-status errors alone', () => {
    const md = new Metadata();
    md.set('k', 'v');
    const e = fromGrpcError({ code: Status.RESOURCE_EXHAUSTED, details: 'too big', metadata: md }) as GrpcStatusError;
    expect(e).toBeInstanceOf(GrpcStatusError);
    expect(e.code).toBe(Status.RESOURCE_EXHAUSTED);
    expect(e.codeName).toBe('RESOURCE_EXHAUSTED');
    expect(e.metadata.get('k')).toEqual(['v']);
    const plain = new Error('plain');
    expect(fromGrpcError(plain)).toBe(plain);
  });
});
