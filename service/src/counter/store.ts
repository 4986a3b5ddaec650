// The counter store contract: every hit gets its own exact number (a bigint, Redis's signed 64-bit
// range), numbers are unique and, when every hit succeeds, contiguous.
// A timeout or an unreplicated batch may have been counted by Redis: an over-count, never a repeat.
export type StoreErrorKind = 'timeout' | 'unavailable' | 'error' | 'unreplicated';

export class StoreError extends Error {
  override name = 'StoreError';
  readonly kind: StoreErrorKind;
  constructor(kind: StoreErrorKind, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.kind = kind;
  }
}

export type StoreStatus = { ready: boolean; detail: string };

export interface CounterStore {
  readonly kind: 'redis' | 'memory';
  /** Counts one hit and resolves with its number; rejects with a StoreError. */
  hit(): Promise<bigint>;
  /** The current value without counting. */
  current(): Promise<bigint>;
  /** Readiness from what is known now (no I/O): the metrics gauge reads it. */
  status(): StoreStatus;
  /** Readiness for /ready: may ask the store itself, and answers within a bound. */
  check(): Promise<StoreStatus>;
  close(): Promise<void>;
}

/** Redis's INCRBY limit: the largest signed 64-bit integer. */
export const COUNTER_MAX = 2n ** 63n - 1n;
