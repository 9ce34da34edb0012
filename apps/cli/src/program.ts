/**
 * The `tributary` command line: commander definitions of every command and option, and
 * `run`, which parses, dispatches and maps every outcome to an exit code (see errors.ts):
 * help and version exit 0; commander's parse errors and UsageError exit 2, printed as one
 * line naming the command's --help; failures of the operation exit 1.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Command, CommanderError, Option } from 'commander';
import { DEFAULT_BOOTSTRAP, NoBrokerAvailableError } from '@tributary/client';
import { addAcls, listAcls, removeAcls } from './commands/acls';
import type { AclOptions } from './commands/acls';
import { describeCluster } from './commands/cluster';
import { consume } from './commands/consume';
import { deleteGroups, describeGroups, listGroups, resetOffsets } from './commands/groups';
import { electLeaders } from './commands/leaders';
import { reassign } from './commands/partitions';
import { perfConsume, perfProduce } from './commands/perf';
import { produce } from './commands/produce';
import { describeQuotas, positiveNumber, setQuotas } from './commands/quotas';
import type { QuotaEntityOptions, SetQuotaOptions } from './commands/quotas';
import { addPartitions, alterConfig, createTopic, deleteTopics, describeTopics, listTopics } from './commands/topics';
import { createUser, deleteUser, hashUser, listUsers } from './commands/users';
import type { CreateUserOptions, DeleteUserOptions } from './commands/users';
import type { GlobalOptions, Io } from './context';
import { EXIT_OK, EXIT_USAGE, exitCodeOf, messageOf, oneLine } from './errors';
import { dateTimeArg, durationArg, offsetArg, shiftArg, topicScope } from './groups-plan';
import * as parse from './parse';
import { brokerList } from './reassign-plan';
import { addSecurityOptions, clientSecurity, describeSecurityFailure, securitySummary } from './security';
import type { SecurityFlags, SecuritySummary } from './security';

/** The CLI's version (apps/cli/package.json; this file runs from src/ or dist/). */
export function cliVersion(): string {
  try {
    return (JSON.parse(readFileSync(join(__dirname, '..', 'package.json'), 'utf8')) as { version: string }).version;
  } catch {
    return '0.0.0';
  }
}

function globals(cmd: Command): GlobalOptions {
  const all = cmd.optsWithGlobals<{ bootstrap: string[]; requestTimeoutMs: number } & SecurityFlags>();
  return { bootstrap: all.bootstrap, requestTimeoutMs: all.requestTimeoutMs, security: clientSecurity(all) };
}

const acksOption = (): Option => new Option('--acks <acks>', 'acknowledgement: 0 (none), 1 (leader), all (every in-sync replica; the default)').argParser(parse.acks);
const compressionOption = (): Option =>
  new Option('--compression <type>', 'compression.type of the batches').choices(parse.COMPRESSION_TYPES).argParser(parse.compression);
const lingerOption = (): Option => new Option('--linger-ms <ms>', 'linger.ms: how long a batch waits for more records (default 5)').argParser(parse.integer(0));
const batchSizeOption = (): Option => new Option('--batch-size <bytes>', 'batch.size: bytes of one partition batch (default 16384)').argParser(parse.integer(1));
const partitionsOption = (): Option =>
  new Option('--partition <n...>', 'only these partitions (repeatable, or a comma list: 0,2,5)').argParser(parse.partitionList);

/** Builds the program; `io` receives every byte it prints. */
export function buildProgram(io: Io): Command {
  const program = new Command('tributary');
  program
    .description('Tributary command line: topics, produce, consume, consumer groups, leaders, cluster and perf tools.')
    .version(cliVersion(), '-V, --version', 'print the version')
    .addOption(
      new Option('--bootstrap <host:port,...>', 'brokers to start from')
        .env('TRIBUTARY_BOOTSTRAP')
        .default([DEFAULT_BOOTSTRAP], DEFAULT_BOOTSTRAP)
        .argParser(parse.bootstrapList),
    )
    .addOption(new Option('--request-timeout-ms <ms>', 'deadline of each request, and of waits for metadata').default(30_000).argParser(parse.integer(1)));
  addSecurityOptions(program)
    .helpOption('-h, --help', 'show help')
    .showSuggestionAfterError(true)
    .exitOverride();

  // ---- topics ----------------------------------------------------------------------------
  const topics = program.command('topics').description('create, list, describe, alter and delete topics');
  topics
    .command('create')
    .description('create a topic')
    .argument('<name>', 'topic name')
    .addOption(new Option('--partitions <n>', "number of partitions (default: the cluster's num.partitions)").argParser(parse.integer(1)))
    .addOption(new Option('--replication-factor <n>', "copies of each partition (default: the cluster's default.replication.factor)").argParser(parse.integer(1)))
    .addOption(new Option('--config <key=value>', 'topic config override (repeatable), e.g. retention.ms=86400000').argParser(parse.keyValue))
    .option('--if-not-exists', 'succeed (and do nothing) when the topic exists')
    .option('--validate-only', 'check everything, create nothing')
    .action((name: string, o: Parameters<typeof createTopic>[3], cmd: Command) => createTopic(io, globals(cmd), name, o));
  topics
    .command('list')
    .description('list topic names, one per line')
    .option('--json', 'print a JSON array')
    .action((o: { json?: boolean }, cmd: Command) => listTopics(io, globals(cmd), o));
  topics
    .command('describe')
    .description('describe topics (default: all): partition count, replication factor, config overrides, and per partition leader, replicas, ISR, offline replicas')
    .argument('[names...]', 'topics to describe')
    .option('--json', 'print a JSON array')
    .action((names: string[], o: { json?: boolean }, cmd: Command) => describeTopics(io, globals(cmd), names, o));
  topics
    .command('delete')
    .description('delete topics and their data')
    .argument('<names...>', 'topics to delete')
    .option('--if-exists', 'succeed for topics that do not exist')
    .action((names: string[], o: { ifExists?: boolean }, cmd: Command) => deleteTopics(io, globals(cmd), names, o));
  topics
    .command('alter-config')
    .description("set or remove a topic's config overrides")
    .argument('<name>', 'topic name')
    .addOption(new Option('--set <key=value>', 'override to set (repeatable)').argParser(parse.keyValue))
    .addOption(new Option('--delete <key>', 'override to remove, back to the default (repeatable)').argParser(parse.collect))
    .action((name: string, o: Parameters<typeof alterConfig>[3], cmd: Command) => alterConfig(io, globals(cmd), name, o));
  topics
    .command('add-partitions')
    .description('grow a topic to N partitions in total')
    .argument('<name>', 'topic name')
    .addOption(new Option('--partitions <n>', 'partition count after the change').argParser(parse.integer(1)).makeOptionMandatory())
    .option('--validate-only', 'check, change nothing')
    .action((name: string, o: Parameters<typeof addPartitions>[3], cmd: Command) => addPartitions(io, globals(cmd), name, o));

  // ---- partitions ------------------------------------------------------------------------
  const partitions = program.command('partitions').description('move partition replicas between brokers (kafka-reassign-partitions)');
  partitions
    .command('reassign')
    .description('propose (--generate), start (--execute), check (--verify), cancel (--cancel) or list (--list) partition reassignments')
    .option('--generate', 'propose an assignment of the topics in --topics-to-move-json-file over --broker-list (prints current and proposed JSON; changes nothing)')
    .option('--execute', 'start the reassignment in --reassignment-json-file (prints the current assignment: keep it for rollback)')
    .option('--verify', 'per partition of --reassignment-json-file: completed, still in progress, or not as asked (exit 1)')
    .option('--cancel', 'cancel the reassignments of the partitions in --reassignment-json-file: back to their original replicas')
    .option('--list', 'list the reassignments in progress')
    .option('--topics-to-move-json-file <file>', 'for --generate: {"version":1,"topics":[{"topic":"name"}]}')
    .addOption(new Option('--broker-list <ids>', 'for --generate: the brokers to spread the replicas over, e.g. 1,2,3').argParser(brokerList))
    .option('--reassignment-json-file <file>', '{"version":1,"partitions":[{"topic":"name","partition":0,"replicas":[1,2]}]}')
    .addOption(new Option('--throttle <bytes/s>', 'for --execute: each moving replica copies at most this many bytes per second (removed when its partition is done)').argParser(parse.integer(1)))
    .option('--additional', 'for --execute: start even though other reassignments are in progress (a partition already moving is reassigned again)')
    .option('--wait', 'for --execute: show progress (partitions done, records the new replicas are behind) until every partition is done')
    .addOption(new Option('--timeout-ms <ms>', 'for --wait: fail (exit 1) when not done after this long; the reassignment goes on').argParser(parse.integer(1)))
    .addOption(new Option('--reporting-interval-ms <ms>', 'interval of the progress lines when stderr is not a terminal').default(5000).argParser(parse.integer(1)))
    .action((o: Parameters<typeof reassign>[2], cmd: Command) => reassign(io, globals(cmd), o));

  // ---- produce / consume -----------------------------------------------------------------
  program
    .command('produce')
    .description('send one record per line of stdin (or --file)')
    .argument('<topic>', 'topic to write to')
    .option('--file <path>', 'read lines from this file instead of stdin')
    .addOption(new Option('--key-separator <sep>', 'split each line into key and value at the first <sep> (\\t allowed)').argParser(parse.separator))
    .addOption(new Option('--header <key=value>', 'header added to every record (repeatable)').argParser(parse.keyValue))
    .addOption(new Option('--partition <n>', 'send every record to this partition').argParser(parse.integer(0)))
    .addOption(acksOption())
    .addOption(compressionOption())
    .addOption(lingerOption())
    .addOption(batchSizeOption())
    .option('-q, --quiet', 'no summary on stderr')
    .action((topic: string, o: Parameters<typeof produce>[3], cmd: Command) => produce(io, globals(cmd), topic, o));
  program
    .command('consume')
    .description('print records; follows new records until --max-messages, --timeout-ms or Ctrl-C')
    .argument('<topic>', 'topic to read')
    .option('--from-beginning', 'start at the first record (default: only new records)')
    .addOption(new Option('--offset <offset>', "start offset of each partition: a number, 'earliest' or 'latest'").argParser(parse.startOffset))
    .addOption(new Option('--timestamp <ms|iso>', 'start at the first record at or after this time (epoch ms or ISO-8601)').argParser(parse.timestamp))
    .addOption(partitionsOption())
    .addOption(new Option('--max-messages <n>', 'exit after n records').argParser(parse.integer(1)))
    .option('--format <format>', 'output format: %t topic, %p partition, %o offset, %T timestamp, %k key, %K key size, %s value, %S value size, %h headers; \\n \\t escapes', '%s\\n')
    .addOption(new Option('--timeout-ms <ms>', 'exit when no record came for this long (exit 1 if --max-messages was not reached)').argParser(parse.integer(1)))
    .option('--group <group>', 'consume as a member of this consumer group: partitions shared with its other members, starting at its committed offsets (--from-beginning: where it has none), offsets committed as records are printed and on exit')
    .addOption(new Option('--consumer-property <key=value>', 'Kafka consumer config for --group (repeatable): group.instance.id, session.timeout.ms, heartbeat.interval.ms, max.poll.interval.ms, partition.assignment.strategy, enable.auto.commit, auto.commit.interval.ms').argParser(parse.keyValue))
    .option('-q, --quiet', 'no summary on stderr')
    .action((topic: string, o: Parameters<typeof consume>[3], cmd: Command) => consume(io, globals(cmd), topic, o));

  // ---- groups ----------------------------------------------------------------------------
  const groups = program.command('groups').description('consumer groups: list, describe (offsets and lag), delete, reset offsets (kafka-consumer-groups.sh)');
  groups
    .command('list')
    .description('list consumer groups, one per line')
    .option('--state', 'with their state (Empty, Stable, PreparingRebalance, CompletingRebalance)')
    .option('--json', 'print a JSON array')
    .action((o: Parameters<typeof listGroups>[2], cmd: Command) => listGroups(io, globals(cmd), o));
  groups
    .command('describe')
    .description("per partition: the group's CURRENT-OFFSET, the LOG-END-OFFSET, the LAG and the member that owns it")
    .argument('[groups...]', 'groups to describe')
    .option('--all-groups', 'describe every group')
    .option('--members', 'one line per member: id, host, client id, partition count')
    .option('--verbose', 'with --members: each member\'s partitions too')
    .option('--state', 'coordinator, assignment strategy, state and member count')
    .option('--json', 'print a JSON array')
    .action((ids: string[], o: Parameters<typeof describeGroups>[3], cmd: Command) => describeGroups(io, globals(cmd), ids, o));
  groups
    .command('delete')
    .description('delete empty consumer groups and their committed offsets (exit 1 for a group with members)')
    .argument('<groups...>', 'groups to delete')
    .action((ids: string[], _o: unknown, cmd: Command) => deleteGroups(io, globals(cmd), ids));
  groups
    .command('reset-offsets')
    .description("move a group's committed offsets; prints the plan and changes nothing unless --execute; only for a group with no active members")
    .argument('<group>', 'the group')
    .option('--all-topics', 'every topic the group has committed offsets for')
    .addOption(new Option('--topic <topic[:partitions]>', 'a topic, or some of its partitions: orders:0,2 (repeatable)').argParser(topicScope))
    .option('--to-earliest', 'to the log start')
    .option('--to-latest', 'to the log end')
    .option('--to-current', 'to the committed offset (no change; with --export: a backup)')
    .addOption(new Option('--to-offset <offset>', 'to this offset (clamped into the log)').argParser(offsetArg))
    .addOption(new Option('--shift-by <n>', 'by n records from the committed offset, back when negative (clamped into the log)').argParser(shiftArg))
    .addOption(new Option('--to-datetime <YYYY-MM-DDTHH:mm:SS.sss>', 'to the first record at or after this time (local time unless a zone is given: Z, +02:00)').argParser(dateTimeArg))
    .addOption(new Option('--by-duration <PnDTnHnMnS>', 'to the first record at or after now minus this ISO-8601 duration, e.g. PT1H').argParser(durationArg))
    .option('--from-file <csv>', 'to the offsets of a CSV file of topic,partition,offset lines (what --export prints)')
    .option('--dry-run', 'print the plan only (the default)')
    .option('--execute', 'apply the plan')
    .option('--export', 'print the plan as CSV (topic,partition,offset) for --from-file')
    .action((group: string, o: Parameters<typeof resetOffsets>[3], cmd: Command) => resetOffsets(io, globals(cmd), group, o));

  // ---- leaders ---------------------------------------------------------------------------
  const leaders = program.command('leaders').description('partition leadership (kafka-leader-election.sh)');
  leaders
    .command('elect')
    .description('elect partition leaders: preferred (back to the first replica, when alive and in sync) or unclean (a live replica outside the ISR, for partitions whose in-sync replicas are all down; data only they had is lost). Exit 1 when any partition could not be elected')
    .addOption(new Option('--election-type <type>', 'preferred or unclean').argParser(parse.electionType).makeOptionMandatory())
    .option('--topic <name>', 'elect for this topic (all its partitions, or --partition)')
    .addOption(new Option('--partition <n>', 'only this partition of --topic').argParser(parse.integer(0)))
    .option('--all-topic-partitions', 'elect for every partition of every topic')
    .option('--path-to-json-file <file>', 'elect for the partitions listed in this JSON file: {"partitions": [{"topic": "t", "partition": 0}, ...]}')
    .action((o: Parameters<typeof electLeaders>[2], cmd: Command) => electLeaders(io, globals(cmd), o));

  // ---- acls ------------------------------------------------------------------------------
  const acls = program.command('acls').description("access control lists: add, remove, list (kafka-acls.sh's flags)");
  const aclResourceOptions = (cmd: Command): Command =>
    cmd
      .addOption(new Option('--topic <topic>', 'a topic (repeatable; * for every topic)').argParser(parse.collect))
      .addOption(new Option('--group <group>', 'a consumer group (repeatable; * for every group)').argParser(parse.collect))
      .addOption(new Option('--transactional-id <id>', 'a transactional id (repeatable; * for every one)').argParser(parse.collect))
      .option('--cluster', 'the cluster resource (kafka-cluster)')
      .addOption(new Option('--resource-pattern-type <type>', 'literal (default), prefixed; to remove and list also match (every ACL that applies to the name) or any'));
  const aclPrincipalOptions = (cmd: Command): Command =>
    cmd
      .addOption(new Option('--allow-principal <principal>', 'User:<name> (or User:*) to allow (repeatable)').argParser(parse.collect))
      .addOption(new Option('--deny-principal <principal>', 'User:<name> (or User:*) to deny (repeatable)').argParser(parse.collect))
      .addOption(new Option('--allow-host <host>', 'IP address the allowed principals connect from (repeatable; default *)').argParser(parse.collect))
      .addOption(new Option('--deny-host <host>', 'IP address the denied principals connect from (repeatable; default *)').argParser(parse.collect))
      .addOption(
        new Option('--operation <operation>', 'Read, Write, Create, Delete, Alter, Describe, ClusterAction, DescribeConfigs, AlterConfigs, IdempotentWrite or All (repeatable; default All)').argParser(parse.collect),
      )
      .option('--producer', 'producer role: Write, Describe, Create on the topics (Write, Describe on --transactional-id)')
      .option('--idempotent', 'with --producer: IdempotentWrite on the cluster too')
      .option('--consumer', 'consumer role: Read, Describe on the topics and Read on the --group');
  aclPrincipalOptions(aclResourceOptions(acls.command('add').description('add ACLs (every principal x host x operation x resource)'))).action((o: AclOptions, cmd: Command) =>
    addAcls(io, globals(cmd), o),
  );
  aclPrincipalOptions(aclResourceOptions(acls.command('remove').description('remove ACLs (without principals: every ACL of the resources); prints what it would remove unless --force')))
    .option('--force', 'remove without asking (without it nothing is removed)')
    .action((o: AclOptions, cmd: Command) => removeAcls(io, globals(cmd), o));
  aclResourceOptions(acls.command('list').description('list ACLs, of the given resources or all'))
    .addOption(new Option('--principal <principal>', 'only the ACLs of this principal'))
    .action((o: AclOptions, cmd: Command) => listAcls(io, globals(cmd), o));

  // ---- users -----------------------------------------------------------------------------
  const users = program.command('users').description('SCRAM credentials: create, delete, list (kafka-configs.sh --entity-type users)');
  users
    .command('create')
    .description('create or replace a SCRAM credential; the password is salted locally and never sent (KIP-554)')
    .argument('<name>', 'user name (the principal User:<name>)')
    .option('--password-file <file>', 'read the password from this file (one line)')
    .option('--password-stdin', 'read the password from stdin')
    .addOption(new Option('--password <password>', 'refused: a password on the command line leaks (process list, shell history)').hideHelp())
    .addOption(new Option('--mechanism <mechanism>', 'SCRAM-SHA-256 (default) or SCRAM-SHA-512'))
    .addOption(new Option('--iterations <n>', 'PBKDF2 iterations, 4096 (default) to 16384').argParser(parse.integer(1)))
    .action((name: string, o: CreateUserOptions, cmd: Command) => createUser(io, globals(cmd), name, o));
  users
    .command('delete')
    .description("delete a user's SCRAM credentials (all, or one --mechanism)")
    .argument('<name>', 'user name')
    .addOption(new Option('--mechanism <mechanism>', 'only this mechanism: SCRAM-SHA-256 or SCRAM-SHA-512'))
    .action((name: string, o: DeleteUserOptions, cmd: Command) => deleteUser(io, globals(cmd), name, o));
  users
    .command('list')
    .description('users with SCRAM credentials: mechanisms and iterations (never salts or keys)')
    .option('--json', 'print a JSON array')
    .action((o: { json?: boolean }, cmd: Command) => listUsers(io, globals(cmd), o));
  users
    .command('hash')
    .description("print a salted SCRAM credential line for the coordination service's --scram-credentials-file (no cluster needed; the password never leaves this process)")
    .argument('<name>', 'user name (the principal User:<name>)')
    .option('--password-file <file>', 'read the password from this file (one line)')
    .option('--password-stdin', 'read the password from stdin')
    .addOption(new Option('--password <password>', 'refused: a password on the command line leaks (process list, shell history)').hideHelp())
    .addOption(new Option('--mechanism <mechanism>', 'SCRAM-SHA-256 (default) or SCRAM-SHA-512'))
    .addOption(new Option('--iterations <n>', 'PBKDF2 iterations, 4096 (default) to 16384').argParser(parse.integer(1)))
    .action((name: string, o: CreateUserOptions) => hashUser(io, name, o));

  // ---- quotas ----------------------------------------------------------------------------
  const quotas = program.command('quotas').description('client quotas: set, describe (kafka-configs.sh --entity-type users|clients, KIP-546)');
  const quotaEntityOptions = (cmd: Command): Command =>
    cmd
      .option('--user <name>', 'the user (principal User:<name>; ANONYMOUS for unauthenticated clients)')
      .option('--user-default', 'the default user: each user without a more specific quota')
      .option('--client-id <id>', "the client id (the clients' client.id)")
      .option('--client-default', 'the default client id: each client id without a more specific quota');
  quotaEntityOptions(quotas.command('set').description('set or delete quotas of a user, a client id, or a user and client id (per broker; clients over them are throttled)'))
    .addOption(new Option('--producer-byte-rate <bytes/s>', 'producer_byte_rate: produced bytes per second').argParser(parse.integer(1)))
    .addOption(new Option('--consumer-byte-rate <bytes/s>', 'consumer_byte_rate: fetched bytes per second').argParser(parse.integer(1)))
    .addOption(new Option('--request-percentage <percent>', 'request_percentage: percent of one request thread (above 100: more than one)').argParser(positiveNumber))
    .addOption(new Option('--delete <key>', 'delete this quota: producer_byte_rate, consumer_byte_rate or request_percentage (repeatable)').argParser(parse.collect))
    .action((o: SetQuotaOptions, cmd: Command) => setQuotas(io, globals(cmd), o));
  quotaEntityOptions(quotas.command('describe').description('list quotas: of every entity, or exactly of the entity given'))
    .option('--json', 'print a JSON array')
    .action((o: QuotaEntityOptions & { json?: boolean }, cmd: Command) => describeQuotas(io, globals(cmd), o));

  // ---- cluster ---------------------------------------------------------------------------
  const cluster = program.command('cluster').description('cluster state');
  cluster
    .command('describe')
    .description('cluster id, active controller and live brokers (exit 1 when the cluster does not answer)')
    .option('--json', 'print a JSON object')
    .action((o: { json?: boolean }, cmd: Command) => describeCluster(io, globals(cmd), o));

  // ---- perf ------------------------------------------------------------------------------
  const perf = program.command('perf').description('throughput and latency tests (kafka-producer-perf-test, kafka-consumer-perf-test)');
  perf
    .command('produce')
    .description('send records as fast as asked and report records/s, MB/s and latency percentiles')
    .requiredOption('--topic <topic>', 'topic to write to (must exist, unless --create-topic)')
    .addOption(new Option('--num-records <n>', 'records to send').argParser(parse.integer(1)).makeOptionMandatory())
    .addOption(new Option('--record-size <bytes>', 'value size of each record').argParser(parse.integer(0)).makeOptionMandatory())
    .addOption(new Option('--throughput <records/s>', 'at most this many records/s; -1: no limit').argParser(throughput).default(-1))
    .addOption(acksOption())
    .addOption(batchSizeOption())
    .addOption(lingerOption())
    .addOption(compressionOption())
    .option('--create-topic', 'create the topic when it does not exist')
    .addOption(new Option('--partitions <n>', 'partitions of a topic created by --create-topic (default 1)').argParser(parse.integer(1)))
    .addOption(new Option('--replication-factor <n>', "replication factor of a topic created by --create-topic (default: the cluster's default.replication.factor)").argParser(parse.integer(1)))
    .addOption(new Option('--reporting-interval-ms <ms>', 'interval of the progress lines when stderr is not a terminal').default(5000).argParser(parse.integer(1)))
    .option('--json', 'print the final figures as one JSON object')
    .action((o: Parameters<typeof perfProduce>[2], cmd: Command) => perfProduce(io, globals(cmd), o));
  perf
    .command('consume')
    .description('read records from the beginning and report records/s and MB/s')
    .requiredOption('--topic <topic>', 'topic to read')
    .addOption(new Option('--messages <n>', 'records to read (default: every record there is at the start)').argParser(parse.integer(1)))
    .option('--from-beginning', 'start at the first record (the default and only mode)')
    .addOption(partitionsOption())
    .addOption(new Option('--timeout-ms <ms>', 'fail when no record came for this long').default(10_000).argParser(parse.integer(1)))
    .addOption(new Option('--reporting-interval-ms <ms>', 'interval of the progress lines when stderr is not a terminal').default(5000).argParser(parse.integer(1)))
    .option('--json', 'print the final figures as one JSON object')
    .action((o: Parameters<typeof perfConsume>[2], cmd: Command) => perfConsume(io, globals(cmd), o));

  configureOutput(program, io);
  return program;
}

function throughput(value: string): number {
  if (value.trim() === '-1') return -1;
  return parse.integer(1)(value);
}

/** Every command prints through `io`; a parse error is one line that names the command's --help. */
function configureOutput(cmd: Command, io: Io): void {
  const path = commandPath(cmd);
  cmd.configureOutput({
    writeOut: (s) => io.stdout.write(s),
    writeErr: (s) => io.stderr.write(s),
    outputError: (s, write) => write(`tributary: ${oneLine(s.replace(/^error:\s*/, ''))} (see \`${path} --help\`)\n`),
  });
  cmd.exitOverride();
  for (const sub of cmd.commands) configureOutput(sub, io);
}

function commandPath(cmd: Command): string {
  const names: string[] = [];
  for (let c: Command | null = cmd; c !== null; c = c.parent) names.unshift(c.name());
  return names.join(' ');
}

/** Parses `args` (without node and script), runs the command, and returns the exit code. */
export async function run(args: readonly string[], io: Io): Promise<number> {
  const program = buildProgram(io);
  try {
    await program.parseAsync(args as string[], { from: 'user' });
    return EXIT_OK;
  } catch (e) {
    if (e instanceof CommanderError) {
      if (e.code === 'commander.helpDisplayed' || e.code === 'commander.version') return EXIT_OK;
      // Everything else commander reports (unknown command or option, missing argument,
      // invalid value, help shown because a command was missing) is a usage error.
      return EXIT_USAGE;
    }
    io.stderr.write(`tributary: ${reportOf(e, securitySummary(program.opts<SecurityFlags>()))}\n`);
    return exitCodeOf(e);
  }
}

function reportOf(e: unknown, security: SecuritySummary): string {
  const failure = describeSecurityFailure(e, security);
  if (failure !== undefined) return failure;
  if (e instanceof NoBrokerAvailableError) {
    return `no broker reachable at ${e.addresses.join(',')}: start the local cluster with \`npm start\`, or point --bootstrap (or TRIBUTARY_BOOTSTRAP) at a running broker`;
  }
  // A multi-topic Admin failure on one topic: that topic's own error says it all.
  const perTopic = (e as { errors?: unknown }).errors;
  if (perTopic instanceof Map && perTopic.size === 1) return messageOf(perTopic.values().next().value);
  return messageOf(e);
}
