import type { ParseArgsConfig } from 'node:util';
import type { Logger } from '../log.js';
import { UsageError } from '../errors.js';
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

