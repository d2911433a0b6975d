/**
 * The gssd library: stages as async-iterator transforms over Arrow record batches, the I/O
 * they read and write, the models, the GSSD decision logic, and the whole passes.
 *
 * @example
 *   import { pipe } from 'it-pipe';
 *   import { readBatches, decode, embed, loadResNet } from 'gssd';
 *   const encoder = await loadResNet('enc/encoder');
 *   for await (const b of pipe(readBatches(['a.parquet']), (s) => decode(s), (s) => embed(s, { encoder }))) use(b);
 */
export * from './io/index.js';
export { CheckpointStore } from './io/checkpoint.js';
export { MatrixWriter, readMatrix } from './io/matrix-file.js';
export { takeRows } from './io/batch-ops.js';
export { decode, decodeBatch, decodeImage, PIXELS_COLUMN, REASON_COLUMN } from './stages/decode.js';
export { augment, normalize, CIFAR_MEAN, CIFAR_STD } from './stages/augment.js';
export { embed, embedBatch, embeddingsOf, EMBEDDING_COLUMN, type ImageEncoder } from './stages/embed.js';
export { RunningStats } from './stages/standardize.js';
export { score, scoreRows, LIKELIHOOD_COLUMN, PREDICTION_COLUMN, NO_FLOW_LOGLIK, type ScoreOptions, type RowScoring } from './stages/score.js';
export { workFiles, embeddingReader, eligibleReader, trainableClasses, type WorkFiles } from './io/work-files.js';
export { route, withVerdicts, splitBySplit, VERDICT_FIELDS, type RowVerdict, type RouteSplit, type BatchSink, type RouteOptions } from './stages/route.js';
export { initBackend, type BackendName } from './models/backend.js';
export { ResNet } from './models/resnet.js';
export { SimclrTrainer, ntXent } from './models/simclr.js';
export { ParallelSimclr } from './models/simclr-parallel.js';
export { Flow } from './models/flow.js';
export { FlowBank } from './models/flow-bank.js';
export { FlowBankPool } from './models/flow-bank-pool.js';
export { openFlowScorer, type FlowScorer, type ScoreRuntime } from './models/flow-scorer.js';
export { OnnxFlowScorer } from './models/onnx-flow-scorer.js';
export { exportFlowBankToOnnx } from './models/onnx-flow.js';
export { saveResNet, loadResNet, saveFlowBank, loadFlowBank, saveFlowBankState, loadFlowBankState } from './models/save.js';
export { OnnxEncoder } from './models/onnx-encoder.js';
export { exportResNetToOnnx } from './models/onnx-export.js';
export { EmbedPool } from './models/embed-pool.js';
export * from './detect/index.js';
export * from './attacks/index.js';
export * from './eval/index.js';
export { Rng } from './rng.js';
export { InputError, UsageError } from './errors.js';
export { createLogger, silentLogger, type Logger } from './log.js';
export { cleanse, cleanseOptions, CLEANSE_DEFAULTS, type CleanseOptions, type CleanseRequest } from '../pipelines/cleanse.js';
export type { CleanseReport } from '../pipelines/cleanse/report.js';
export { pretrainEncoder, type PretrainSettings } from '../pipelines/pretrain.js';
export { pretrain, PRETRAIN_DEFAULTS, type PretrainOptions } from '../pipelines/pretrain-run.js';
export { SOURCE_DEFAULTS, resolveSource, type SourceSettings, type SourceOption } from './io/source-settings.js';
export { classNamesOf, classTitle } from './io/class-names.js';
export { inInputSchema, ROW_COLUMN, type InputShape } from './stages/input-schema.js';
export { poison } from '../pipelines/poison.js';
export { evaluate } from '../pipelines/evaluate.js';
export { inspect } from '../pipelines/inspect.js';
export { embedShard, mergeShardStats, fitClass, scoreShard, concatFiles, type EmbedShardManifest } from '../pipelines/jobs.js';
export { saveClassFlow, loadClassFlows } from './models/save.js';
