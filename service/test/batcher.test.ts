// Group commit, unit level: the increment function is a controllable fake (code above the store).
import t from 'tap';
import { Batcher } from '../src/counter/batcher.ts';

type Call = { k: number; resolve: (v: bigint) => void; reject: (e: Error) => void };

function fakeIncrBy() {
  const calls: Call[] = [];
  const incrBy = (k: number) =>
    new Promise<bigint>((resolve, reject) => {
      calls.push({ k, resolve, reject });
    });
  return { calls, incrBy };
}

const settle = () => new Promise<void>((r) => setImmediate(r));

t.test('a lone hit is its own batch, with no added wait', async (t) => {
  const { calls, incrBy } = fakeIncrBy();
  const b = new Batcher(incrBy, 1024);
  const p = b.hit();
  t.same(
    calls.map((c) => c.k),
    [1],
  );
  calls[0]!.resolve(42n);
  t.equal(await p, 42n);
});

t.test('hits arriving during a batch form the next batch and get v-k+1..v in arrival order', async (t) => {
  const { calls, incrBy } = fakeIncrBy();
  const b = new Batcher(incrBy, 1024);
  const first = b.hit();
  const rest = [b.hit(), b.hit(), b.hit(), b.hit(), b.hit()];
  t.equal(calls.length, 1, 'one command in flight at a time');
  calls[0]!.resolve(10n);
  t.equal(await first, 10n);
  await settle();
  t.same(
    calls.map((c) => c.k),
    [1, 5],
  );
  calls[1]!.resolve(15n);
  t.same(await Promise.all(rest), [11n, 12n, 13n, 14n, 15n]);
});

t.test('COUNTER_BATCH_MAX caps a batch; the remainder waits for the next one', async (t) => {
  const { calls, incrBy } = fakeIncrBy();
  const b = new Batcher(incrBy, 3);
  const hits = Array.from({ length: 8 }, () => b.hit());
  let v = 100n;
  for (let i = 0; i < 4; i++) {
    await settle();
    const call = calls[i]!;
    v += BigInt(call.k);
    call.resolve(v);
  }
  t.same(
    calls.map((c) => c.k),
    [1, 3, 3, 1],
  );
  t.same(await Promise.all(hits), [101n, 102n, 103n, 104n, 105n, 106n, 107n, 108n]);
});

t.test('a failed batch fails all its hits; the next batch still runs', async (t) => {
  const { calls, incrBy } = fakeIncrBy();
  const b = new Batcher(incrBy, 1024);
  const first = b.hit();
  const second = [b.hit(), b.hit()];
  calls[0]!.resolve(1n);
  await first;
  await settle();
  calls[1]!.reject(new Error('store down'));
  for (const p of second) await t.rejects(p, /store down/);
  const third = b.hit();
  await settle();
  t.equal(calls[2]!.k, 1);
  calls[2]!.resolve(4n);
  t.equal(await third, 4n);
});

t.test('numbers stay exact beyond 2^53', async (t) => {
  const { calls, incrBy } = fakeIncrBy();
  const b = new Batcher(incrBy, 1024);
  const first = b.hit();
  const two = [b.hit(), b.hit()];
  calls[0]!.resolve(9223372036854775805n);
  await first;
  await settle();
  calls[1]!.resolve(9223372036854775807n);
  t.same(await Promise.all(two), [9223372036854775806n, 9223372036854775807n]);
});

t.test('a batch maximum below 1 is refused', async (t) => {
  t.throws(() => new Batcher(async () => 1n, 0), /batch max must be an integer >= 1/);
});

t.test('a hit queued past its deadline is answered with the deadline error and never sent', async (t) => {
  const { calls, incrBy } = fakeIncrBy();
  const b = new Batcher(incrBy, 1024, { deadlineMs: 50, deadlineError: (sent) => new Error(`late ${sent}`) });
  const first = b.hit(); // in flight, held
  const queued = b.hit();
  await Promise.all([
    t.rejects(queued, /late false/, 'the queued hit is answered at its deadline'),
    t.rejects(first, /late true/, 'so is the one in flight'),
  ]);
  const next = b.hit();
  calls[0]!.resolve(1n); // the held batch returns late: its number is skipped
  await settle();
  t.same(
    calls.map((c) => c.k),
    [1, 1],
    'the expired queued hit was left out of the next batch',
  );
  calls[1]!.resolve(2n);
  t.equal(await next, 2n);
});

t.test('a batch returning after some deadlines answers the others once, numbers never reused', async (t) => {
  const { calls, incrBy } = fakeIncrBy();
  let expired = 0;
  const b = new Batcher(incrBy, 1024, {
    deadlineMs: 80,
    deadlineError: () => new Error(`late ${++expired}`),
  });
  const early = b.hit();
  const slow = [b.hit(), b.hit(), b.hit()]; // the next batch of 3, held past the deadline below
  calls[0]!.resolve(10n);
  t.equal(await early, 10n);
  await settle();
  t.same(
    calls.map((c) => c.k),
    [1, 3],
  );
  await Promise.all(slow.map((p) => t.rejects(p, /late/)));
  t.equal(expired, 3, 'each hit settled by its deadline once');
  calls[1]!.resolve(13n); // Redis counted them after all: 11..13 are skipped (an over-count)
  const later = b.hit();
  await settle();
  calls[2]!.resolve(14n);
  t.equal(await later, 14n, 'the next hit gets the next number, never one of the skipped');
  t.equal(expired, 3, 'the late batch settled nothing twice');
});

t.test('a deadline that is not a whole number of ms >= 0 is refused', async (t) => {
  t.throws(() => new Batcher(async () => 1n, 1, { deadlineMs: -1 }), /deadline must be an integer >= 0/);
});

t.test('each hit keeps its own deadline, also one arriving after others expired', async (t) => {
  const { calls, incrBy } = fakeIncrBy();
  const b = new Batcher(incrBy, 1024, { deadlineMs: 60, deadlineError: (sent) => new Error(`late ${sent}`) });
  const first = b.hit(); // in flight, held for good
  await t.rejects(first, /late true/);
  const later = b.hit(); // queued behind the held batch, from now on
  let settled = false;
  later.catch(() => (settled = true));
  await settle();
  t.notOk(settled, 'not answered by the earlier deadline');
  await t.rejects(later, /late false/, 'answered by its own');
  t.same(
    calls.map((c) => c.k),
    [1],
    'and never sent',
  );
});
