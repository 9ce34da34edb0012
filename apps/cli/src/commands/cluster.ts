/** `tributary cluster describe`: cluster id, the active controller, the live brokers. */
import { Admin } from '@tributary/client';
import type { GlobalOptions, Io } from '../context';
import { clientOptions, writeOut } from '../context';

export async function describeCluster(io: Io, global: GlobalOptions, o: { json?: boolean }): Promise<void> {
  const admin = new Admin(clientOptions(global));
  let info;
  try {
    info = await admin.describeCluster();
  } finally {
    await admin.close();
  }
  const clusterId = info.clusterId;
  const brokers = [...info.brokers].sort((a, b) => a.id - b.id);
  if (o.json === true) {
    const out = {
      clusterId,
      controller: { id: info.controllerId, address: info.controllerAddress, epoch: Number(info.controllerEpoch) },
      brokers: brokers.map((b) => ({ id: b.id, host: b.host, port: b.port, rack: b.rack === '' ? null : b.rack })),
    };
    await writeOut(io.stdout, `${JSON.stringify(out)}\n`);
    return;
  }
  let text = '';
  if (clusterId !== '') text += `Cluster id: ${clusterId}\n`;
  text += `Controller: ${info.controllerId} at ${info.controllerAddress} (epoch ${info.controllerEpoch})\n`;
  text += `Brokers: ${brokers.length}\n`;
  for (const b of brokers) text += `\tId: ${b.id}\tAddress: ${b.host}:${b.port}\tRack: ${b.rack === '' ? '-' : b.rack}\n`;
  await writeOut(io.stdout, text);
}
