// What the bench's command lines share: a bad option is a UsageError naming it and its range.

export class UsageError extends Error {}

/** `text` as a whole number from `min` to `max`, or a UsageError naming the option `--name`. */
export function whole(name: string, text: string, min: number, max: number): number {
  const n = Number(text);
  if (!/^\d+$/.test(text) || n < min || n > max)
    throw new UsageError(`--${name} must be a whole number from ${min} to ${max}, got "${text}"`);
  return n;
}
