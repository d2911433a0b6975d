/** Atomic file writes live in `src/atomic-file.ts` (models save with them too); re-exported for io's users. */
export { syncDir, writeFileAtomic } from '../atomic-file.js';
