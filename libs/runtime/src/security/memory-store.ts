/**
 * An in-memory {@link SecurityStore} with node and children watches, for unit tests of code
 * that keeps security state in the coordination store (the real store is exercised by the
 * integration specs).
 */
import type { SecurityStore } from './store';

export class MemorySecurityStore implements SecurityStore {
  readonly nodes = new Map<string, Buffer>();
  private readonly watchers = new Set<{ path: string; children: boolean; onEvent: (e: { children: string[] }) => void }>();

  async tryGet(path: string): Promise<{ data: Buffer } | undefined> {
    const data = this.nodes.get(path);
    return data === undefined ? undefined : { data };
  }

  async create(path: string, data: Buffer): Promise<void> {
    if (this.nodes.has(path)) throw Object.assign(new Error(`${path} exists`), { code: 'NODE_EXISTS' });
    this.nodes.set(path, data);
    this.changed(path);
  }

  async delete(path: string): Promise<void> {
    if (!this.nodes.delete(path)) throw Object.assign(new Error(`${path} does not exist`), { code: 'NO_NODE' });
    this.changed(path);
  }

  async children(path: string): Promise<{ children: string[] }> {
    if (!this.nodes.has(path)) throw Object.assign(new Error(`${path} does not exist`), { code: 'NO_NODE' });
    const prefix = `${path}/`;
    return {
      children: [...this.nodes.keys()]
        .filter((k) => k.startsWith(prefix) && !k.slice(prefix.length).includes('/'))
        .map((k) => k.slice(prefix.length))
        .sort(),
    };
  }

  async ensurePath(path: string): Promise<void> {
    let current = '';
    for (const segment of path.split('/').filter(Boolean)) {
      current += `/${segment}`;
      if (!this.nodes.has(current)) this.nodes.set(current, Buffer.alloc(0));
    }
  }

  async cas(path: string, update: (current: { data: Buffer } | undefined) => Buffer | null | undefined | Promise<Buffer | null | undefined>): Promise<void> {
    const next = await update(await this.tryGet(path));
    if (next === null) await this.delete(path);
    else if (next !== undefined) {
      this.nodes.set(path, next);
      this.changed(path);
    }
  }

  watch(path: string, handlers: { children?: boolean; onEvent: (e: { children: string[] }) => void }): { cancel(): void } {
    const w = { path, children: handlers.children ?? false, onEvent: handlers.onEvent };
    this.watchers.add(w);
    return { cancel: () => this.watchers.delete(w) };
  }

  private changed(path: string): void {
    const parent = path.slice(0, path.lastIndexOf('/'));
    for (const w of this.watchers) {
      if (w.children ? parent === w.path : path === w.path) {
        void this.children(w.path).then(
          (c) => w.onEvent(c),
          () => w.onEvent({ children: [] }),
        );
      }
    }
  }
}
