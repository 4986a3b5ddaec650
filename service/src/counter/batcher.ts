// Group commit: one increment-by-k command per batch while one batch is in flight. Hits that arrive
// meanwhile queue up; when a batch returns the new value v, its k hits get v-k+1 … v in arrival
// order and the queue becomes the next batch (at most `max` hits). A failed batch fails all its hits.
//
// Every hit has its own deadline, counted from its arrival: when it passes, the hit is answered with
// the deadline error at once, whether it is still queued or in flight, so no hit waits longer than
// the deadline behind a slow or hung store. A queued hit whose deadline passed is never sent (not
// counted); one already in flight may still be counted by the store, but its number is skipped when
// the batch returns: an over-count, never a number handed out twice. Each hit is settled once.
// Hits wait in arrival order (the batch in flight, then the queue), so their deadlines are in that
// order too: one timer, armed for the earliest deadline still pending, serves them all.
type Waiter = {
  resolve: (n: bigint) => void;
  reject: (err: unknown) => void;
  /** performance.now() by which it must be answered */
  deadline: number;
  /** answered (a number, an error or the deadline): nothing may settle it again */
  done: boolean;
  /** part of a batch that was sent */
  sent: boolean;
};

export type IncrBy = (k: number) => Promise<bigint>;

export type BatcherOptions = {
  /** Longest a hit may wait from its arrival, queued and in flight together (ms); 0 = no deadline. */
  deadlineMs?: number;
  /** The error a hit gets when its deadline passes; `sent` tells whether its batch was sent. */
  deadlineError?: (sent: boolean, deadlineMs: number) => Error;
};

const defaultDeadlineError = (sent: boolean, ms: number): Error =>
  new Error(`no answer within ${ms} ms (${sent ? 'in flight' : 'still queued'})`);

export class Batcher {
  readonly #incrBy: IncrBy;
  readonly #max: number;
  readonly #deadlineMs: number;
  readonly #deadlineError: (sent: boolean, deadlineMs: number) => Error;
  #queue: Waiter[] = [];
  /** the batch in flight (empty between batches) */
  #batch: Waiter[] = [];
  #inFlight = false;
  #timer: NodeJS.Timeout | undefined;

  constructor(incrBy: IncrBy, max: number, o: BatcherOptions = {}) {
    if (!Number.isInteger(max) || max < 1)
      throw new RangeError(`batch max must be an integer >= 1, got ${max}`);
    const deadlineMs = o.deadlineMs ?? 0;
    if (!Number.isInteger(deadlineMs) || deadlineMs < 0)
      throw new RangeError(`deadline must be an integer >= 0 (ms), got ${deadlineMs}`);
    this.#incrBy = incrBy;
    this.#max = max;
    this.#deadlineMs = deadlineMs;
    this.#deadlineError = o.deadlineError ?? defaultDeadlineError;
  }

  hit(): Promise<bigint> {
    return new Promise<bigint>((resolve, reject) => {
      const deadline = this.#deadlineMs > 0 ? performance.now() + this.#deadlineMs : Infinity;
      const w: Waiter = { resolve, reject, deadline, done: false, sent: false };
      this.#queue.push(w);
      if (this.#timer === undefined && deadline < Infinity) this.#arm(deadline);
      if (!this.#inFlight) void this.#flush();
    });
  }

  #arm(at: number): void {
    this.#timer = setTimeout(() => this.#expire(), Math.max(1, Math.ceil(at - performance.now())));
  }

  /** Answers every pending hit whose deadline has passed, then waits for the next deadline. */
  #expire(): void {
    this.#timer = undefined;
    const now = performance.now();
    for (const list of [this.#batch, this.#queue]) {
      for (const w of list) {
        if (w.done) continue;
        if (w.deadline > now) {
          this.#arm(w.deadline); // the earliest still pending: every later one is later
          return;
        }
        // A queued waiter stays in the queue, marked done: the next batch leaves it out.
        w.done = true;
        w.reject(this.#deadlineError(w.sent, this.#deadlineMs));
      }
    }
  }

  /** The next batch: up to `max` queued hits still waiting, in arrival order (expired ones dropped). */
  #take(): Waiter[] {
    const batch: Waiter[] = [];
    let i = 0;
    for (; i < this.#queue.length && batch.length < this.#max; i++) {
      const w = this.#queue[i]!;
      if (!w.done) batch.push(w);
    }
    this.#queue = i === this.#queue.length ? [] : this.#queue.slice(i);
    return batch;
  }

  async #flush(): Promise<void> {
    this.#inFlight = true;
    while (this.#queue.length > 0) {
      const batch = this.#take();
      const k = batch.length;
      if (k === 0) continue;
      for (const w of batch) w.sent = true;
      this.#batch = batch;
      try {
        const v = await this.#incrBy(k);
        const first = v - BigInt(k) + 1n;
        batch.forEach((w, i) => settle(w, () => w.resolve(first + BigInt(i))));
      } catch (err) {
        for (const w of batch) settle(w, () => w.reject(err));
      }
      this.#batch = [];
    }
    this.#inFlight = false;
    // Every hit is answered: no deadline left to watch (the next hit arms the timer again).
    clearTimeout(this.#timer);
    this.#timer = undefined;
  }
}

/** Answers a waiter unless its deadline already did (its number, if any, is then skipped). */
function settle(w: Waiter, answer: () => void): void {
  if (w.done) return;
  w.done = true;
  answer();
}
