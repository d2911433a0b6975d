import type { ParseArgsConfig } from 'node:util';
import type { Logger } from '../log.js';
import { UsageError } from '../errors.js';
import { SOURCE_HELP, SOURCE_OPTIONS, sourceSettings } from './source-options.js';
import { resolveInputs } from '../io/inputs.js';

/** One `gssd` subcommand: its options (parseArgs config), help text and handler. */
export interface Command {
  name: string;
  summary: string;
  usage: string;
  help: string;
  options: NonNullable<ParseArgsConfig['options']>;
  run(values: Values, positionals: string[], log: Logger): Promise<number | void>;
}

export type Values = Record<string, string | boolean | string[] | undefined>;

/** Inputs from positionals (files, dirs, globs, URLs, `-` for stdin), at least one. */
export async function inputsOf(positionals: string[]): Promise<string[]> {
  if (positionals.length === 0) throw new UsageError('Expected at least one input (a Parquet file, directory, glob, URL, or - for stdin)');
  return resolveInputs(positionals, { stdin: process.stdin });
}

const inspect: Command = {
  name: 'inspect',
  summary: 'Row counts, columns, label counts and image formats of Parquet inputs',
  usage: 'Usage: gssd inspect <inputs...> [--json] [--sample N]',
  help: `  --json                   print JSON instead of text
  --sample N               images per input whose format and size are read (default 256)
${SOURCE_HELP}`,
  options: { ...SOURCE_OPTIONS, json: { type: 'boolean' }, sample: { type: 'string' } },
  async run(values, positionals, log) {
    const { inspect: run, formatInspect } = await import('../../pipelines/inspect.js');
    const { intOption } = await import('./options.js');
    const source = sourceSettings(values);
    const inputs = await inputsOf(positionals);
    const result = await run(inputs, { ...source, sampleRows: intOption(values.sample as string | undefined, '--sample', { min: 0, fallback: 256 }) }, log);
    process.stdout.write(values.json ? JSON.stringify(result, null, 1) + '\n' : formatInspect(result));
  },
};

/** The subcommands, by name. Handlers import their pipeline lazily so `--help` stays fast. */
export const COMMANDS: Record<string, Command> = { inspect };
