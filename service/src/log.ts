// Where the log lines go: stdout, through pino's asynchronous writer (sonic-boom, sync: false). A
// request never waits for its line to reach the pipe: lines are written together, once
// LOG_BATCH_BYTES wait or every LOG_FLUSH_MS, so a line reaches stdout within that time. On exit
// (a clean shutdown, or process.exit after a fatal error) pino writes what is pending
// synchronously, so those lines are kept (that write waits for stdout if it is stalled). A process
// that dies without exiting (SIGKILL, the kernel's OOM killer, V8 aborting when the heap is full)
// loses the lines not yet written: those of the last LOG_FLUSH_MS, at most LOG_BUFFER_BYTES.
// When stdout cannot keep up, lines beyond that buffer are dropped and counted
// (hitcounter_log_lines_dropped_total) instead of growing the heap or holding requests.
import pino from 'pino';

export const LOG_BUFFER_BYTES = 1024 * 1024;
export const LOG_BATCH_BYTES = 4096;
export const LOG_FLUSH_MS = 100;

export type LogDestination = {
  stream: pino.DestinationStream;
  /** lines dropped because the buffer was full */
  dropped(): number;
};

export function stdoutDestination(): LogDestination {
  // Buffer mode: in its text mode sonic-boom measures the whole pending batch (Buffer.byteLength of
  // a string of up to LOG_BATCH_BYTES) at every line, about 6 % of a replica's CPU at info level
  // (profiled). As buffers, each line is encoded once and a batch is joined once, when written.
  const boom = pino.destination({
    dest: 1,
    sync: false,
    minLength: LOG_BATCH_BYTES,
    periodicFlush: LOG_FLUSH_MS,
    maxLength: LOG_BUFFER_BYTES,
    contentMode: 'buffer',
  });
  let dropped = 0;
  // pino writes one line per write(): a dropped write is a dropped line
  boom.on('drop', () => {
    dropped += 1;
  });
  // pino's own exit handler flushes `boom` (pino.destination registers it), and on EPIPE pino
  // replaces boom.write with a no-op, which this looks up at every line. (sonic-boom's types know
  // its text mode only.)
  const buffers = boom as unknown as { write(data: Buffer): boolean };
  const stream = {
    write(line: string): void {
      buffers.write(Buffer.from(line));
    },
    flush(cb?: (err?: Error) => void): void {
      boom.flush(cb);
    },
  };
  return { stream, dropped: () => dropped };
}
