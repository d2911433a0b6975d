import type { ParseArgsConfig } from 'node:util';
import type { Logger } from '../log.js';

/** One `gssd` subcommand: its options (parseArgs config), help text and handler. */
export interface Command {
  name: string;
  summary: string;
  usage: string;
  help: string;
  options: NonNullable<ParseArgsConfig['options']>;
  run(values: Record<string, string | boolean | string[] | undefined>, positionals: string[], log: Logger): Promise<number | void>;
}

/** The subcommands, by name. Handlers import their pipeline lazily so `--help` stays fast. */
export const COMMANDS: Record<string, Command> = {};
