import type { Command } from './command.js';
import { inspectCommand } from './inspect-command.js';
import { cleanseCommand } from './cleanse-command.js';
import { poisonCommand } from './poison-command.js';
import { evaluateCommand } from './evaluate-command.js';
import { demoCommand } from './demo-command.js';
import { pretrainCommand } from './pretrain-command.js';
import { trainCommand } from './train-command.js';
import { testCommand } from './test-command.js';
import { exportOnnxCommand } from './export-onnx-command.js';
import { workerCommand } from './worker-command.js';
import { statusCommand } from './status-command.js';

export type { Command } from './command.js';

/** The subcommands, by name. Handlers import their pipeline lazily so `--help` stays fast. */
export const COMMANDS: Record<string, Command> = Object.fromEntries(
  [demoCommand, inspectCommand, cleanseCommand, pretrainCommand, poisonCommand, evaluateCommand, trainCommand, testCommand, exportOnnxCommand, workerCommand, statusCommand].map((c) => [c.name, c]),
);
