/**
 * The `gssd` command line: parses arguments, makes a logger, runs one pipeline, and turns
 * errors into one line on stderr with exit code 2 (bad input or usage, an unusable --out),
 * 3 (disk full) or 1 (a bug).
 */
import { parseArgs, type ParseArgsConfig } from 'node:util';
import { COMMANDS, type Command } from './cli/commands.js';
import { UsageError, errorMessage } from './errors.js';
import { createLogger } from './log.js';
import { choiceOpt, numberOpt, optionHelp, parseArgsTable } from './cli/option.js';
import { nearest } from './cli/suggest.js';
import { systemError } from './cli/system-error.js';
import { setS3Endpoint } from './io/s3-client.js';
import { VERSION } from './version.js';

/** `--log`: how progress and events go to stderr. */
const logOption = choiceOpt('log', 'text|json|silent', 'progress and events on stderr', ['text', 'json', 'silent'] as const, { default: 'text' });
/** `--progress-every`: seconds between progress lines (the logger's default when absent). */
const progressEveryOption = numberOpt('progress-every', 'S', 'least seconds between progress lines when stderr is not a terminal (default 30; json 5)', { min: 0 });
/** The options every command takes (and `-h/--help`). */
const COMMON_OPTIONS = [logOption, progressEveryOption];

export async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (name === undefined) {
    process.stderr.write(overview());
    return 2;
  }
  if (name === '--help' || name === '-h' || name === 'help') {
    const topic = name === 'help' ? rest[0] : undefined;
    process.stdout.write(topic && COMMANDS[topic] ? commandHelp(COMMANDS[topic]) : overview());
    return 0;
  }
  if (name === '--version' || name === '-v') {
    process.stdout.write(`gssd ${VERSION}\n`);
    return 0;
  }
  const command = COMMANDS[name];
  if (!command) {
    const near = nearest(name, Object.keys(COMMANDS));
    process.stderr.write(`gssd: unknown command \`${name}\`; ${near ? `did you mean \`${near}\`?` : `commands: ${Object.keys(COMMANDS).join(', ')}`} (gssd --help)\n`);
    return 2;
  }
  let log = createLogger();
  try {
    const options = { ...command.options, ...parseArgsTable(COMMON_OPTIONS), help: { type: 'boolean', short: 'h' } } as const;
    checkKnownOptions(rest, options, name);
    const { values, positionals } = parseArgs({ args: rest, options, allowPositionals: true, strict: true });
    if (values.help) {
      process.stdout.write(commandHelp(command));
      return 0;
    }
    const every = progressEveryOption.read(values);
    log = createLogger({ format: logOption.read(values), progressEveryMs: every === undefined ? undefined : 1000 * every });
    const s3Endpoint = (values as Record<string, unknown>)['s3-endpoint'];
    if (typeof s3Endpoint === 'string') setEndpoint(s3Endpoint);
    return (await command.run(values as Record<string, string | boolean | string[] | undefined>, positionals, log)) ?? 0;
  } catch (err) {
    const sys = systemError(err);
    if (sys) {
      if (log.format === 'json') log.error('error', { message: sys.message, exitCode: sys.exitCode });
      else process.stderr.write(`gssd ${name}: ${sys.message}\n`);
      return sys.exitCode;
    }
    const code = (err as { exitCode?: number }).exitCode;
    const known = err instanceof UsageError || code === 2 || isParseArgsError(err);
    const message = errorMessage(err).split('\n')[0];
    if (log.format === 'json') log.error('error', { message, exitCode: known ? 2 : 1 });
    else process.stderr.write(`gssd ${name}: ${message}\n`);
    if (!known && process.env.GSSD_DEBUG) process.stderr.write(`${(err as Error).stack}\n`);
    else if (!known) process.stderr.write('(an internal error: set GSSD_DEBUG=1 for the stack trace)\n');
    return known ? 2 : 1;
  }
}

/** `--s3-endpoint URL` for every s3:// request of the command. */
function setEndpoint(url: string): void {
  try {
    setS3Endpoint(url);
  } catch {
    throw new UsageError(`Expected \`--s3-endpoint\` to be a URL such as http://127.0.0.1:9000, got \`${url}\``);
  }
}

/**
 * Refuses an option the command does not take, in one line naming the nearest one it does
 * take ("unknown option --flow-epoch; did you mean --flow-epochs?").
 */
function checkKnownOptions(args: string[], options: NonNullable<ParseArgsConfig['options']>, command: string): void {
  const { tokens } = parseArgs({ args, options, allowPositionals: true, strict: false, tokens: true });
  for (const t of tokens) {
    if (t.kind !== 'option' || Object.hasOwn(options, t.name)) continue;
    const near = t.rawName.startsWith('--') ? nearest(t.name, Object.keys(options)) : undefined;
    throw new UsageError(`unknown option ${t.rawName}${near ? `; did you mean --${near}?` : ` (gssd ${command} --help lists the options)`}`);
  }
}

function isParseArgsError(err: unknown): boolean {
  const code = (err as { code?: string }).code;
  return typeof code === 'string' && code.startsWith('ERR_PARSE_ARGS');
}

function overview(): string {
  const width = Math.max(...Object.keys(COMMANDS).map((n) => n.length));
  const lines = Object.values(COMMANDS).map((c) => `  ${c.name.padEnd(width)}  ${c.summary}`);
  return `gssd ${VERSION}: find and remove backdoor-poisoned samples from image training sets (GSSD)

Usage: gssd <command> [options]

Commands:
${lines.join('\n')}

Common options: --log text|json|silent (progress and events on stderr), --progress-every SECONDS
(progress lines when stderr is not a terminal; default 30 for text, 5 for json), -h/--help.
Run \`gssd <command> --help\` for a command's options.
`;
}

function commandHelp(c: Command): string {
  return `${c.usage}\n\n${c.summary}\n\n${c.help.trim()}\n\n${optionHelp(COMMON_OPTIONS)}\n`;
}
