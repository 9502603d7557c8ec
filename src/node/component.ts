/**
 * A node is an ordered list of components: each starts once the ones before it are up, and on
 * shutdown they stop in reverse, so nothing stops while something started after it still uses it.
 */
import type { Logger } from '../log.ts';

/** A start refused for a reason an operator must fix (exit 78, EX_CONFIG), not a crash. */
export class StartRefused extends Error {
  override name = 'StartRefused';
}

export interface Component {
  readonly name: string;
  start(): Promise<void>;
  stop(): Promise<void>;
}

/** Starts components in order; stop() stops the started ones in reverse, each once. */
export class Lifecycle {
  private readonly components: readonly Component[];
  private readonly started: Component[] = [];
  private stopping: Promise<void> | undefined;

  /** A component this node's role does not run is given as undefined and left out. */
  constructor(components: readonly (Component | undefined)[], private readonly log: Logger) {
    this.components = components.filter((c): c is Component => c !== undefined);
  }

  /** A component that fails to start rejects here; the ones before it stay up (the caller exits). */
  async start(): Promise<void> {
    for (const c of this.components) {
      await c.start();
      this.started.push(c);
    }
  }

  /**
   * Every started component is asked to stop even when one before it fails: a drain should
   * release what it can. The first failure is rethrown at the end, so the exit still says so.
   */
  stop(): Promise<void> {
    this.stopping ??= (async () => {
      let failure: { error: unknown } | undefined;
      for (const c of [...this.started].reverse()) {
        try {
          await c.stop();
        } catch (e) {
          this.log.error({ err: e, component: c.name }, 'component did not stop cleanly');
          failure ??= { error: e };
        }
      }
      if (failure) throw failure.error;
    })();
    return this.stopping;
  }
}

/**
 * Last in a node's list, so the first to stop: `stop` runs what must happen before anything
 * else goes (the edge closing its sockets), while everything behind it still works.
 */
export function firstToStop(name: string, stop: () => Promise<void>): Component {
  return { name, start: async () => {}, stop };
}
