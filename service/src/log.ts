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
  const stream = pino.destination({
    dest: 1,
    sync: false,
    minLength: LOG_BATCH_BYTES,
    periodicFlush: LOG_FLUSH_MS,
    maxLength: LOG_BUFFER_BYTES,
  });
  let dropped = 0;
  // pino writes one line per write(): a dropped write is a dropped line
  stream.on('drop', () => {
    dropped += 1;
  });
  return { stream, dropped: () => dropped };
}
