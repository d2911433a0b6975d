import type { ParseArgsConfig } from 'node:util';
import { enumOption, intOption, numberOption, stringOption } from './option-values.js';

/** The parsed arguments, as `parseArgs` gives them. */
export type Values = Record<string, string | boolean | string[] | undefined>;

/**
 * One command-line option, declared once: its flag, argument name, help text, `parseArgs`
 * type and how its value is read (validated, the default filled in). The `--help` text and
 * the `parseArgs` table of a command are generated from its options (see `defineCommand`).
 *
 * @example
 *   const epochs = intOpt('epochs', 'N', 'training epochs', { min: 1, default: 30 });
 *   epochs.read({ epochs: '5' });   // 5; help line: "  --epochs N   training epochs (default 30)"
 */
export interface Option<T> {
  /** The flag without its dashes: `flow-epochs`. */
  readonly flag: string;
  /** The argument's name in the help (`N`, `DIR`); absent for a switch. */
  readonly arg?: string;
  /** The help text, default included; `\n` starts a continuation line. */
  readonly help: string;
  /** A repeatable string option (`--clean a --clean b`). */
  readonly multiple?: boolean;
  /** The option's value: validated, the default filled in (a `UsageError` for a bad one). */
  read(values: Values): T;
}

/**
 * Options read together into one value (the input options, the training engine's), with an
 * optional heading line before them in the help.
 */
export interface OptionGroup<T> {
  readonly options: readonly Option<unknown>[];
  readonly heading?: string;
  read(values: Values): T;
}

/** What a command's option list holds: options and groups, in help order. */
export type OptionEntry = Option<unknown> | OptionGroup<unknown>;

/** How the default shows in the help: `{default}` in the text, else appended as ` (default X)`. */
interface DefaultShown {
  /** The default as the help shows it (default: `String(default)`), e.g. `3e-4`. */
  defaultText?: string;
  /** Do not show the default in the help. */
  hideDefault?: boolean;
}

function helpText(help: string, shown: string | undefined, d: DefaultShown): string {
  const text = d.defaultText ?? shown;
  if (help.includes('{default}')) return help.replace('{default}', text ?? '');
  if (text === undefined || d.hideDefault) return help;
  return help ? `${help} (default ${text})` : `(default ${text})`;
}

/** An integer option; without a default it is `undefined` when absent. */
export function intOpt(flag: string, arg: string, help: string, o: { min?: number; max?: number; default: number } & DefaultShown): Option<number>;
export function intOpt(flag: string, arg: string, help: string, o?: { min?: number; max?: number } & DefaultShown): Option<number | undefined>;
export function intOpt(flag: string, arg: string, help: string, o: { min?: number; max?: number; default?: number } & DefaultShown = {}): Option<number | undefined> {
  return {
    flag,
    arg,
    help: helpText(help, o.default === undefined ? undefined : String(o.default), o),
    read: (v) => (v[flag] === undefined && o.default === undefined ? undefined : intOption(v[flag] as string | undefined, `--${flag}`, { min: o.min, max: o.max, fallback: o.default })),
  };
}

/** A number option (bounds inclusive, or exclusive with `open`); without a default it is `undefined` when absent. */
export function numberOpt(flag: string, arg: string, help: string, o: { min?: number; max?: number; open?: boolean; default: number } & DefaultShown): Option<number>;
export function numberOpt(flag: string, arg: string, help: string, o?: { min?: number; max?: number; open?: boolean } & DefaultShown): Option<number | undefined>;
export function numberOpt(flag: string, arg: string, help: string, o: { min?: number; max?: number; open?: boolean; default?: number } & DefaultShown = {}): Option<number | undefined> {
  return {
    flag,
    arg,
    help: helpText(help, o.default === undefined ? undefined : String(o.default), o),
    read: (v) =>
      v[flag] === undefined && o.default === undefined ? undefined : numberOption(v[flag] as string | undefined, `--${flag}`, { min: o.min, max: o.max, open: o.open, fallback: o.default }),
  };
}

/** One of a fixed set of words; without a default it is `undefined` when absent. */
export function choiceOpt<T extends string>(flag: string, arg: string, help: string, allowed: readonly T[], o: { default: T } & DefaultShown): Option<T>;
export function choiceOpt<T extends string>(flag: string, arg: string, help: string, allowed: readonly T[], o?: DefaultShown): Option<T | undefined>;
export function choiceOpt<T extends string>(flag: string, arg: string, help: string, allowed: readonly T[], o: { default?: T } & DefaultShown = {}): Option<T | undefined> {
  return {
    flag,
    arg,
    help: helpText(help, o.default, o),
    read: (v) => (v[flag] === undefined && o.default === undefined ? undefined : enumOption(v[flag] as string | undefined, `--${flag}`, allowed, o.default)),
  };
}

/** A string option: `required` (a `UsageError` when absent or empty), with a default, or `undefined` when absent. */
export function stringOpt(flag: string, arg: string, help: string, o: { required: true } | ({ default: string } & DefaultShown)): Option<string>;
export function stringOpt(flag: string, arg: string, help: string): Option<string | undefined>;
export function stringOpt(flag: string, arg: string, help: string, o: { required?: true; default?: string } & DefaultShown = {}): Option<string | undefined> {
  return {
    flag,
    arg,
    help: helpText(help, o.default, o),
    read: (v) => (o.required ? stringOption(v[flag] as string | undefined, `--${flag}`) : ((v[flag] as string | undefined) ?? o.default)),
  };
}

/** A switch: true when given. */
export function switchOpt(flag: string, help: string): Option<boolean> {
  return { flag, help, read: (v) => Boolean(v[flag]) };
}

/** A repeatable string option: its values as given ([] when absent). */
export function listOpt(flag: string, arg: string, help: string): Option<string[]> {
  return {
    flag,
    arg,
    help,
    multiple: true,
    read: (v) => {
      const raw = v[flag];
      return raw === undefined || typeof raw === 'boolean' ? [] : Array.isArray(raw) ? raw : [raw];
    },
  };
}

/** The options of a list, groups flattened, in help order. */
export function optionsOf(entries: readonly OptionEntry[]): Option<unknown>[] {
  return entries.flatMap((e) => ('options' in e ? e.options : [e]));
}

/**
 * The `parseArgs` table of an option list.
 *
 * @example
 *   parseArgs({ args, options: parseArgsTable([epochs, json]), allowPositionals: true });
 */
export function parseArgsTable(entries: readonly OptionEntry[]): NonNullable<ParseArgsConfig['options']> {
  return Object.fromEntries(
    optionsOf(entries).map((o) => [o.flag, o.arg === undefined ? { type: 'boolean' as const } : { type: 'string' as const, ...(o.multiple ? { multiple: true } : {}) }]),
  );
}

/** Column where the help texts start. */
const HELP_COLUMN = 27;

/**
 * The help lines of an option list: `  --flag ARG` then the text from column 27 (or two
 * spaces after a longer flag), continuation lines indented to the text; a group's heading
 * on a line of its own before its options.
 *
 * @example
 *   optionHelp([epochs]);   // "  --epochs N               training epochs (default 30)"
 */
export function optionHelp(entries: readonly OptionEntry[]): string {
  const lines: string[] = [];
  for (const e of entries) {
    if ('options' in e) {
      if (e.heading) lines.push(e.heading);
      lines.push(optionHelp(e.options));
      continue;
    }
    const label = `  --${e.flag}${e.arg === undefined ? '' : ` ${e.arg}`}`;
    const [first, ...rest] = e.help.split('\n');
    lines.push(`${label.length + 2 > HELP_COLUMN ? `${label}  ` : label.padEnd(HELP_COLUMN)}${first}`);
    for (const line of rest) lines.push(`${' '.repeat(HELP_COLUMN)}${line}`);
  }
  return lines.join('\n');
}
