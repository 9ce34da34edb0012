/**
 * A second network host for partition tests: a network namespace joined to this one by a
 * veth pair, with a private /30 in 10.231.0.0/16 (this side .1, the namespace .2). Services
 * in the root namespace listen on `rootAddress` (a local address here, so loopback clients
 * still reach them through it); a process started under `wrapper` runs in the namespace and
 * listens on `nsAddress`.
 *
 * `cut()` isolates the namespace: an `unreachable` route for the /24 first (otherwise,
 * with the link down, traffic to it would follow the default route off the machine), then
 * the link down. `heal()` undoes both. Needs root and `ip` (iproute2); `netnsSupport()` says
 * whether this machine allows it, and why not.
 */
import { execFileSync } from 'node:child_process';

export interface IsolatedHost {
  ns: string;
  rootAddress: string;
  nsAddress: string;
  /** Prefix for a command that must run inside the namespace. */
  wrapper: string[];
  cut(): void;
  heal(): void;
  destroy(): void;
}

function ip(...args: string[]): void {
  execFileSync('ip', args, { stdio: ['ignore', 'ignore', 'pipe'] });
}

/** Undefined when network namespaces can be made here, else the reason they cannot. */
export function netnsSupport(): string | undefined {
  if (process.getuid?.() !== 0) return 'network namespaces need root';
  const probe = `trib-probe-${process.pid}`;
  try {
    ip('netns', 'add', probe);
    ip('netns', 'del', probe);
    return undefined;
  } catch (e) {
    return `ip netns add failed: ${e instanceof Error ? e.message.split('\n')[0] : String(e)}`;
  }
}

export function createIsolatedHost(): IsolatedHost {
  const id = process.pid % 250;
  const ns = `trib-iso-${process.pid}`;
  const rootIf = `trv${process.pid}`.slice(0, 15);
  const nsIf = `trn${process.pid}`.slice(0, 15);
  const subnet = `10.231.${id}`;
  const rootAddress = `${subnet}.1`;
  const nsAddress = `${subnet}.2`;
  let cut = false;
  const destroy = (): void => {
    try {
      if (cut) ip('route', 'del', 'unreachable', `${subnet}.0/24`);
    } catch {
      // already gone
    }
    try {
      ip('netns', 'del', ns); // removes the veth pair too
    } catch {
      // already gone
    }
  };
  destroy();
  ip('netns', 'add', ns);
  try {
    ip('link', 'add', rootIf, 'type', 'veth', 'peer', 'name', nsIf);
    ip('link', 'set', nsIf, 'netns', ns);
    ip('addr', 'add', `${rootAddress}/30`, 'dev', rootIf);
    ip('link', 'set', rootIf, 'up');
    ip('netns', 'exec', ns, 'ip', 'addr', 'add', `${nsAddress}/30`, 'dev', nsIf);
    ip('netns', 'exec', ns, 'ip', 'link', 'set', nsIf, 'up');
    ip('netns', 'exec', ns, 'ip', 'link', 'set', 'lo', 'up');
  } catch (e) {
    destroy();
    throw e;
  }
  return {
    ns,
    rootAddress,
    nsAddress,
    wrapper: ['ip', 'netns', 'exec', ns],
    cut() {
      if (cut) return;
      ip('route', 'add', 'unreachable', `${subnet}.0/24`);
      cut = true;
      ip('link', 'set', rootIf, 'down');
    },
    heal() {
      if (!cut) return;
      ip('link', 'set', rootIf, 'up');
      ip('route', 'del', 'unreachable', `${subnet}.0/24`);
      cut = false;
    },
    destroy,
  };
}
