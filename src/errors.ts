/**
 * Errors that reach the user as one line. `InputError` is bad input (exit code 2):
 * a file, URL, column or row the user gave us that we cannot use. `UsageError` is a
 * bad command line or option (exit code 2). File-system errors of the environment (an
 * unusable `--out`: exit 2; a full disk: exit 3) are mapped by `cli/system-error.ts`.
 * Anything else is a bug (exit code 1).
 *
 * @example
 *   throw new InputError(`${file}: row group 3: column "label" holds 12, outside [0, 10)`);
 */
export class InputError extends Error {
  readonly exitCode = 2;
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'InputError';
  }
}

/** A bad option or argument, phrased like `Expected \`--rate\` to be a number in (0, 1), got \`x\``. */
export class UsageError extends Error {
  readonly exitCode = 2;
  constructor(message: string) {
    super(message);
    this.name = 'UsageError';
  }
}

/** The message of any thrown value, for one-line reports. */
export function errorMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

/**
 * Throws a `UsageError` unless `value` is an integer of at least `min`, in the one message
 * pattern of option checks.
 *
 * @example
 *   expectInteger('batchRows', opts.batchRows, 1);
 */
export function expectInteger(name: string, value: number, min: number): void {
  if (!Number.isInteger(value) || value < min) {
    throw new UsageError(`Expected \`${name}\` to be an integer from ${min} and up, got \`${value}\``);
  }
}
