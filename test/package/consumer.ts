import { resolve } from 'node:path';

/** The TypeScript compiler of the repo, run on a consumer project. */
export const TSC = resolve('node_modules/typescript/bin/tsc');

/**
 * A consumer's tsconfig: strict, NodeNext, and the library checks on (errors in gssd's own
 * .d.ts files count; TensorFlow.js's are not strict-clean, so skipLibCheck stays as most
 * projects set it and the test reads gssd's declarations as the consumer's own sources too).
 */
export const CONSUMER_TSCONFIG = {
  compilerOptions: {
    strict: true,
    module: 'NodeNext',
    moduleResolution: 'NodeNext',
    target: 'ES2022',
    noEmit: true,
    skipLibCheck: true,
    exactOptionalPropertyTypes: false,
    types: ['node'],
    typeRoots: [resolve('node_modules/@types')],
  },
  files: ['main.ts'],
};

/** A library user's code: every long-running call with its defaults, a signal and one `columns`. */
export const CONSUMER_SOURCE = `import { pipe } from 'it-pipe';
import {
  cleanse, pretrain, readBatches, decode, resolveInputs, InputError, SOURCE_DEFAULTS, CLEANSE_DEFAULTS,
  type CleanseReport, type ColumnsOption, type SourceSettings,
} from 'gssd';

const controller = new AbortController();
const columns: ColumnsOption = { image: 'img' };
const source: SourceSettings = { ...SOURCE_DEFAULTS, imageSize: 32 };

export async function run(): Promise<CleanseReport> {
  const { encoder } = await pretrain({ inputs: ['train.parquet'], out: 'enc', epochs: 1, columns, signal: controller.signal });
  for await (const batch of pipe(readBatches(await resolveInputs(['train.parquet']), { columns }), (b) => decode(b, { columns }))) {
    void batch.numRows;
  }
  const report = await cleanse({ inputs: ['train.parquet'], out: 'run', encoder, columns, signal: controller.signal });
  const again: CleanseReport = await cleanse({ inputs: ['a.parquet'], out: 'run2', source, flowEpochs: CLEANSE_DEFAULTS.flowEpochs });
  const names: string[] | null | undefined = report.classNames;
  void names;
  void again;
  return report;
}

export function isInput(err: unknown): boolean {
  return err instanceof InputError;
}
`;
