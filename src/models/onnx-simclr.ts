/**
 * SimCLR pretraining on onnxruntime: the step graph of `onnx-simclr-graph.ts` (forward,
 * backward and Adam in one graph) run on the CPU's cores or on CUDA, with the trainer's state
 * as plain arrays. It starts from and saves to the same state as the TensorFlow.js
 * `SimclrTrainer` (`SimclrArrays`, `saveSimclrArrays`): an encoder trained here loads in
 * TensorFlow.js, and a TensorFlow.js run can continue here.
 *
 * Same maths as `SimclrTrainer.step` (each view normalised with its own batch statistics,
 * NT-Xent, Adam with TensorFlow.js's defaults); not bit-identical to it (other kernels).
 */
import { HEAD, simclrStepGraph } from './onnx-simclr-graph.js';
import { SplitSimclrStep } from './onnx-simclr-split.js';
import { adamScalars, type AdamSettings } from './onnx-optimizer.js';
import { StepSessions, type OnnxTrainDevice, type TrainStepSession } from './onnx-train-session.js';
import { hwioToOihw, oihwToHwio, trainableShapes } from './onnx-resnet-graph.js';
import { convBns, resnetInitialVariables, resnetLayout, type ResNetLayout } from './resnet-layout.js';
import { simclrHeadInitial } from './simclr-head.js';
import type { SimclrArrays, SimclrConfig } from './save.js';

/** TensorFlow.js's Adam defaults, which `SimclrTrainer` uses. */
export const SIMCLR_ADAM: AdamSettings = { beta1: 0.9, beta2: 0.999, epsilon: 1e-8 };

/**
 * A SimCLR trainer on onnxruntime.
 *
 * @example
 *   const trainer = await OnnxSimclr.create(config, null, { device: 'auto', threads: 2 });
 *   const loss = await trainer.step(views, 256);        // views: 2 x 256 normalised NHWC images
 *   await saveSimclrArrays(trainer.arrays(), 'ck/simclr');
 *   await trainer.close();
 */
export class OnnxSimclr {
  readonly config: SimclrConfig;
  readonly layout: ResNetLayout;
  readonly where: OnnxTrainDevice;
  private readonly sessions: StepSessions;
  private readonly split: SplitSimclrStep | undefined;
  private readonly state: Map<string, Float32Array>;
  private iterations: number;
  private providerName: 'cuda' | 'cpu' | undefined;

  private constructor(config: SimclrConfig, state: Map<string, Float32Array>, iterations: number, where: OnnxTrainDevice) {
    this.config = config;
    this.layout = resnetLayout(config.encoder);
    this.state = state;
    this.iterations = iterations;
    this.where = where;
    this.sessions = new StepSessions(where);
    const { projDim, temperature } = config.simclr;
    this.split = where.memory === 'low' ? new SplitSimclrStep(this.layout, { projDim, temperature, adam: SIMCLR_ADAM }, where) : undefined;
  }

  /**
   * A trainer from saved arrays (`loadSimclrArrays`, either engine's), or a fresh one with
   * the seeded initial weights of `config` when `arrays` is null. Opens nothing yet.
   */
  static async create(config: SimclrConfig, arrays: SimclrArrays | null, where: OnnxTrainDevice): Promise<OnnxSimclr> {
    const layout = resnetLayout(config.encoder);
    const a = arrays ?? freshArrays(config, layout);
    const state = new Map<string, Float32Array>();
    const hwio = new Map(resnetInitialVariables(layout).map((v) => [v.name, v.shape]));
    const toGraph = (name: string, values: Float32Array) => (name.startsWith('head/') || hwio.get(name)!.length !== 4 ? values.slice() : hwioToOihw(values, hwio.get(name)!));
    const trained = trainedNames(layout);
    trained.forEach((name, i) => {
      const values = name.startsWith('head/') ? a.head[Number(name.slice(5))] : a.encoder.get(name)!;
      state.set(`param/${name}`, toGraph(name, values));
      state.set(`m/${name}`, a.adam ? toGraph(name, a.adam.m[i]) : new Float32Array(values.length));
      state.set(`v/${name}`, a.adam ? toGraph(name, a.adam.v[i]) : new Float32Array(values.length));
    });
    for (const c of convBns(layout)) {
      for (const k of ['running_mean', 'running_var']) state.set(`stat/${c.bn}.${k}`, a.encoder.get(`${c.bn}.${k}`)!.slice());
    }
    return new OnnxSimclr(config, state, a.adam?.iterations ?? 0, where);
  }

  /** Where the steps run, once the first step opened its session. */
  get provider(): 'cuda' | 'cpu' | undefined {
    return this.providerName;
  }

  /** Adam steps taken so far (saved runs included). */
  get steps(): number {
    return this.iterations;
  }

  /**
   * One Adam step on the NT-Xent loss of two augmented views of `n` images: `views` holds
   * view 1 then view 2, normalised NHWC floats (2 n x S x S x 3). Returns the loss before
   * the step. The step graph of each batch size is built on first use.
   */
  async step(views: Float32Array, n: number): Promise<number> {
    const S = this.layout.imageSize;
    if (views.length !== 2 * n * S * S * 3) throw new Error(`Expected 2 x ${n} views of ${S}x${S}x3 floats, got ${views.length} values`);
    if (n < 2) throw new Error(`A SimCLR step needs at least 2 images, got ${n}`);
    const { lrCorrected, secondCorrection } = adamScalars(this.config.simclr.lr, this.iterations + 1, SIMCLR_ADAM);
    if (this.split) {
      const loss = await this.split.step(this.state, views, n, { lrCorrected, secondCorrection });
      this.providerName = this.split.provider;
      this.iterations++;
      return loss;
    }
    const session = await this.session(n);
    const out = await session.run(this.state, {
      views: [views, [2 * n, S, S, 3]],
      lr_corrected: [Float32Array.of(lrCorrected), []],
      second_correction: [Float32Array.of(secondCorrection), []],
    });
    this.iterations++;
    return out.loss[0];
  }

  /**
   * The trainer's state in gssd's layout (HWIO filters): what `saveSimclrArrays` writes and
   * `loadSimclr` / `OnnxSimclr.create` read back.
   */
  arrays(): SimclrArrays {
    const encoder = new Map<string, Float32Array>();
    const hwio = new Map(resnetInitialVariables(this.layout).map((v) => [v.name, v.shape]));
    const fromGraph = (name: string, values: Float32Array) => (name.startsWith('head/') || hwio.get(name)!.length !== 4 ? values.slice() : oihwToHwio(values, hwio.get(name)!));
    for (const [name] of hwio) {
      const key = name.endsWith('running_mean') || name.endsWith('running_var') ? `stat/${name}` : `param/${name}`;
      encoder.set(name, fromGraph(name, this.state.get(key)!));
    }
    const trained = trainedNames(this.layout);
    return {
      config: this.config,
      encoder,
      head: HEAD.map((h) => this.state.get(`param/${h}`)!.slice()),
      adam: this.iterations > 0 ? { iterations: this.iterations, m: trained.map((n) => fromGraph(n, this.state.get(`m/${n}`)!)), v: trained.map((n) => fromGraph(n, this.state.get(`v/${n}`)!)) } : null,
    };
  }

  /** Frees the open session. */
  async close(): Promise<void> {
    await Promise.all([this.sessions.close(), this.split?.close()]);
  }

  private async session(n: number): Promise<TrainStepSession> {
    const { projDim, temperature } = this.config.simclr;
    const session = await this.sessions.get(n, () => simclrStepGraph(this.layout, n, { projDim, temperature, adam: SIMCLR_ADAM }), `SimCLR step (batch ${n})`);
    this.providerName = session.provider;
    return session;
  }

}

/** Names of the trained variables in gssd's order: the encoder's, then the head's. */
function trainedNames(layout: ResNetLayout): string[] {
  return [...trainableShapes(layout).map((p) => p.name), ...HEAD];
}

function freshArrays(config: SimclrConfig, layout: ResNetLayout): SimclrArrays {
  const encoder = new Map(resnetInitialVariables(layout).map((v) => [v.name, v.values]));
  return { config, encoder, head: simclrHeadInitial(layout.featureDim, config.simclr.projDim, config.simclr.seed), adam: null };
}
