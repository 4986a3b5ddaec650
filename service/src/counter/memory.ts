// The embedded store: one process, same semantics as Redis (exact bigint, overflow is an error).
import { COUNTER_MAX, StoreError, type CounterStore, type StoreStatus } from './store.ts';

export class MemoryStore implements CounterStore {
  readonly kind = 'memory';
  #value: bigint;

  constructor(initial = 0n) {
    this.#value = initial;
  }

  async hit(): Promise<bigint> {
    if (this.#value >= COUNTER_MAX) throw new StoreError('error', 'increment or decrement would overflow');
    this.#value += 1n;
    return this.#value;
  }

  async current(): Promise<bigint> {
    return this.#value;
  }

  status(): StoreStatus {
    return { ready: true, detail: 'embedded store' };
  }

  async check(): Promise<StoreStatus> {
    return this.status();
  }

  async close(): Promise<void> {}
}
