// Group commit: one increment-by-k command per batch while one batch is in flight. Hits that arrive
// meanwhile queue up; when a batch returns the new value v, its k hits get v-k+1 … v in arrival
// order and the queue becomes the next batch (at most `max` hits). A failed batch fails all its hits.
type Waiter = { resolve: (n: bigint) => void; reject: (err: unknown) => void };

export type IncrBy = (k: number) => Promise<bigint>;

export class Batcher {
  readonly #incrBy: IncrBy;
  readonly #max: number;
  #queue: Waiter[] = [];
  #inFlight = false;

  constructor(incrBy: IncrBy, max: number) {
    if (!Number.isInteger(max) || max < 1)
      throw new RangeError(`batch max must be an integer >= 1, got ${max}`);
    this.#incrBy = incrBy;
    this.#max = max;
  }

  hit(): Promise<bigint> {
    return new Promise<bigint>((resolve, reject) => {
      this.#queue.push({ resolve, reject });
      if (!this.#inFlight) void this.#flush();
    });
  }

  async #flush(): Promise<void> {
    this.#inFlight = true;
    while (this.#queue.length > 0) {
      let batch: Waiter[];
      if (this.#queue.length <= this.#max) {
        batch = this.#queue;
        this.#queue = [];
      } else {
        batch = this.#queue.splice(0, this.#max);
      }
      const k = batch.length;
      try {
        const v = await this.#incrBy(k);
        const first = v - BigInt(k) + 1n;
        batch.forEach((w, i) => w.resolve(first + BigInt(i)));
      } catch (err) {
        for (const w of batch) w.reject(err);
      }
    }
    this.#inFlight = false;
  }
}
