import type { ParseArgsConfig } from 'node:util';
import type { Logger } from '../log.js';
import { UsageError } from '../errors.js';
import { resolveInputs } from '../io/inputs.js';
import { optionHelp, parseArgsTable, type OptionEntry, type Values } from './option.js';

export type { Values } from './option.js';

/** One `gssd` subcommand: its options (parseArgs config), help text and handler. */
export interface Command {
  name: string;
  summary: string;
  usage: string;
  help: string;
  options: NonNullable<ParseArgsConfig['options']>;
  run(values: Values, positionals: string[], log: Logger): Promise<number | void>;
}

/** A subcommand as declared: its options once (see `Option`), the help and parse table made from them. */
export interface CommandSpec {
  name: string;
  summary: string;
  usage: string;
  /** What the command does: the help's paragraphs before the options ('' for none). */
  about: string;
  /** The options in help order (options and groups such as `SOURCE_OPTIONS`). */
  options: readonly OptionEntry[];
  run: Command['run'];
}

/**
 * A `Command` from its declaration: the `--help` text and the `parseArgs` table are
 * generated from the option list.
 *
 * @example
 *   export const statusCommand = defineCommand({ name: 'status', summary, usage, about, options: [redis, json], run });
 */
export function defineCommand(spec: CommandSpec): Command {
  const lines = optionHelp(spec.options);
  return {
    name: spec.name,
    summary: spec.summary,
    usage: spec.usage,
    help: spec.about ? `${spec.about}\n\n${lines}` : lines,
    options: parseArgsTable(spec.options),
    run: spec.run,
  };
}

/** Inputs from positionals (files, dirs, globs, URLs, `-` for stdin), at least one. */
export async function inputsOf(positionals: string[]): Promise<string[]> {
  if (positionals.length === 0) throw new UsageError('Expected at least one input (a Parquet file, directory, glob, URL, or - for stdin)');
  return resolveInputs(positionals, { stdin: process.stdin });
}
