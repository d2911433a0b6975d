#!/usr/bin/env node
// The `gssd` executable: everything lives in cli.ts.
import { main } from './cli.js';
import { installProcessGuard } from './process-guard.js';

installProcessGuard();

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (err: unknown) => {
    process.stderr.write(`gssd: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exitCode = 1;
  },
);
