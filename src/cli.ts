/**
 * The `gssd` command line: parses arguments, makes a logger, runs one pipeline, and turns
 * errors into one line on stderr with exit code 2 (bad input or usage, an unusable --out),
 * 3 (disk full) or 1 (a bug).
 */
import { parseArgs } from 'node:util';
import { COMMANDS, type Command } from './cli/commands.js';
import { UsageError, errorMessage } from './errors.js';
import { createLogger } from './log.js';
import { enumOption, numberOption } from './cli/options.js';
import { systemError } from './cli/system-error.js';
import { setS3Endpoint } from './io/s3-client.js';
import { VERSION } from './version.js';

export async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (name === undefined || name === '--help' || name === '-h' || name === 'help') {
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
    process.stderr.write(`gssd: unknown command \`${name}\`; commands: ${Object.keys(COMMANDS).join(', ')} (gssd --help)\n`);
    return 2;
  }
  let log = createLogger();
  try {
    const { values, positionals } = parseArgs({
      args: rest,
      options: { ...command.options, help: { type: 'boolean', short: 'h' }, log: { type: 'string' }, 'progress-every': { type: 'string' } },
      allowPositionals: true,
      strict: true,
    });
    if (values.help) {
      process.stdout.write(commandHelp(command));
      return 0;
    }
    const s3Endpoint = (values as Record<string, unknown>)['s3-endpoint'];
    if (typeof s3Endpoint === 'string') setEndpoint(s3Endpoint);
    const every = values['progress-every'] as string | undefined;
    log = createLogger({
      format: enumOption(values.log as string | undefined, '--log', ['text', 'json', 'silent'] as const, 'text'),
      progressEveryMs: every === undefined ? undefined : 1000 * numberOption(every, '--progress-every', { min: 0 }),
    });
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
  return `${c.usage}\n\n${c.summary}\n\n${c.help.trim()}\n\n  --log text|json|silent   progress and events on stderr (default text)\n  --progress-every S       least seconds between progress lines when stderr is not a terminal (default 30; json 5)\n`;
}
