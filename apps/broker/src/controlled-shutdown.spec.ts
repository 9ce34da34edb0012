/**
 * The broker's controlled-shutdown retry loop (Kafka's controlled.shutdown.max.retries and
 * controlled.shutdown.retry.backoff.ms) against a scripted controller and a fake clock.
 */
import type { ControlledShutdownResponse } from '@tributary/proto';
import { ErrorCode } from '@tributary/records';
import { createLogger } from '@tributary/runtime';
import { controlledShutdown } from './controlled-shutdown';

const logger = createLogger({ service: 'test', nodeId: 1, level: 'silent' });
const done: ControlledShutdownResponse = { errorCode: ErrorCode.NONE, errorMessage: '', remainingPartitions: [] };
const remaining: ControlledShutdownResponse = { errorCode: ErrorCode.NONE, errorMessage: '', remainingPartitions: [{ name: 't', partitions: [0] }] };

function run(answers: Array<ControlledShutdownResponse | Error>, opts: { maxRetries?: number; backoffMs?: number; budgetMs?: number } = {}) {
  let clock = 0;
  const sleeps: number[] = [];
  const requests: unknown[] = [];
  const outcome = controlledShutdown({
    brokerId: 4,
    incarnation: () => 'inc-1',
    send: (request) => {
      requests.push(request);
      const a = answers.shift() ?? done;
      return a instanceof Error ? Promise.reject(a) : Promise.resolve(a);
    },
    maxRetries: opts.maxRetries ?? 3,
    retryBackoffMs: opts.backoffMs ?? 5000,
    deadline: opts.budgetMs ?? 60_000,
    logger,
    now: () => clock,
    sleep: async (ms) => {
      sleeps.push(ms);
      clock += ms;
    },
  });
  return { outcome, sleeps, requests };
}

it('succeeds at the first answer without remaining partitions, sending the broker id and incarnation', async () => {
  const r = run([done]);
  expect(await r.outcome).toEqual({ succeeded: true, attempts: 1 });
  expect(r.requests).toEqual([{ brokerId: 4, incarnation: 'inc-1' }]);
  expect(r.sleeps).toEqual([]);
});

it('retries after the backoff while partitions remain or the controller is unreachable', async () => {
  const r = run([remaining, new Error('UNAVAILABLE'), done]);
  expect(await r.outcome).toEqual({ succeeded: true, attempts: 3 });
  expect(r.sleeps).toEqual([5000, 5000]);
});

it('gives up after max retries attempts, with no wait after the last', async () => {
  const r = run([new Error('UNAVAILABLE'), new Error('UNAVAILABLE'), new Error('UNAVAILABLE'), done]);
  expect(await r.outcome).toEqual({ succeeded: false, attempts: 3 });
  expect(r.sleeps).toEqual([5000, 5000]);
});

it('counts a refusal (error code) as a failed attempt', async () => {
  const refused: ControlledShutdownResponse = { errorCode: ErrorCode.BROKER_NOT_AVAILABLE, errorMessage: 'not registered', remainingPartitions: [] };
  const r = run([refused, done], { maxRetries: 2, backoffMs: 10 });
  expect(await r.outcome).toEqual({ succeeded: true, attempts: 2 });
});

it('stops at the deadline: no wait past it, no attempt after it', async () => {
  const r = run([remaining, remaining, remaining], { budgetMs: 7000 });
  expect(await r.outcome).toEqual({ succeeded: false, attempts: 2 });
  expect(r.sleeps).toEqual([5000, 2000]);
});
