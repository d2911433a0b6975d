import { parseArgs } from 'node:util';
import { describe, expect, it } from 'vitest';
import { choiceOpt, intOpt, listOpt, numberOpt, optionHelp, parseArgsTable, stringOpt, switchOpt, type OptionGroup, type Values } from '../../src/cli/option.js';
import { COMMANDS } from '../../src/cli/commands.js';

describe('options declared once', () => {
  const epochs = intOpt('epochs', 'N', 'training epochs (default {default}; the paper: 200)', { min: 1, default: 30 });
  const lr = numberOpt('lr', 'X', 'learning rate', { min: 0, max: 1, open: true, default: 3e-4, defaultText: '3e-4' });
  const classes = intOpt('num-classes', 'K', 'number of classes (default: 1 + the largest label seen)', { min: 1 });
  const mode = choiceOpt('on-duplicate-id', 'warn|error', 'rows repeating an id: warned about\n(warn, the default), or an error', ['warn', 'error'] as const, { default: 'warn', hideDefault: true });
  const out = stringOpt('out', 'DIR', 'output directory (required)', { required: true });
  const seed = intOpt('seed', 'S', '', { min: 0, default: 0 });
  const json = switchOpt('json', 'print JSON');
  const clean = listOpt('clean', 'INPUTS', 'the clean test set');
  const group: OptionGroup<{ epochs: number }> = { heading: 'Training options:', options: [epochs], read: (v) => ({ epochs: epochs.read(v) }) };

  it('generates the help lines: text at column 27, the default from the declaration, continuation lines indented', () => {
    expect(optionHelp([lr, classes, mode, out, seed, json, clean, group]).split('\n')).toEqual([
      '  --lr X                   learning rate (default 3e-4)',
      '  --num-classes K          number of classes (default: 1 + the largest label seen)',
      '  --on-duplicate-id warn|error  rows repeating an id: warned about',
      '                           (warn, the default), or an error',
      '  --out DIR                output directory (required)',
      '  --seed S                 (default 0)',
      '  --json                   print JSON',
      '  --clean INPUTS           the clean test set',
      'Training options:',
      '  --epochs N               training epochs (default 30; the paper: 200)',
    ]);
  });

  it('generates the parseArgs table, and reads, validates and defaults each value', () => {
    const options = parseArgsTable([out, json, clean, group, mode]);
    expect(options).toEqual({
      out: { type: 'string' },
      json: { type: 'boolean' },
      clean: { type: 'string', multiple: true },
      epochs: { type: 'string' },
      'on-duplicate-id': { type: 'string' },
    });
    const values = parseArgs({ args: ['--out', 'run', '--clean', 'a', '--clean', 'b', '--epochs', '5'], options, strict: true }).values as Values;
    expect([out.read(values), json.read(values), clean.read(values), group.read(values), mode.read(values)]).toEqual(['run', false, ['a', 'b'], { epochs: 5 }, 'warn']);
    expect([classes.read({}), lr.read({}), classes.read({ 'num-classes': '10' })]).toEqual([undefined, 3e-4, 10]);
    expect(() => epochs.read({ epochs: '0' })).toThrow('Expected `--epochs` to be an integer from 1 and up, got `0`');
    expect(() => mode.read({ 'on-duplicate-id': 'drop' })).toThrow('Expected `--on-duplicate-id` to be one of warn, error, got `drop`');
    expect(() => out.read({})).toThrow('Expected `--out` to be given');
  });

  it('lists in each command\'s help every option its parser takes, and no other', () => {
    for (const c of Object.values(COMMANDS)) {
      const listed = [...c.help.matchAll(/^ {2}--([a-z0-9-]+)/gm)].map((m) => m[1]);
      expect(listed.sort(), c.name).toEqual(Object.keys(c.options).sort());
    }
  });
});
