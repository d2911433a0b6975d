/** What a cleanse run directory holds; `--force` deletes only these (and the lock's housekeeping, see `RunDir`). */
export const CLEANSE_RUN_ENTRIES: ReadonlySet<string> = new Set(['checkpoint', 'work', 'clean', 'poisoned', 'uncertain', 'rejected', 'report.json', 'report.html']);
