/**
 * The final classifier trained on onnxruntime: the step graph of `onnx-classifier-graph.ts`
 * on the CPU's cores or CUDA, with its state as plain arrays. It starts from the seeded
 * weights `Classifier` starts from and saves the same `classifier` model directory (HWIO
 * filters, momentum buffers), so `loadClassifier` (TensorFlow.js) predicts with it and either
 * engine continues the other's checkpoint.
 */
import { classifierStepGraph, classifierVariables } from './onnx-classifier-graph.js';
import { StepSessions, type OnnxTrainDevice, type TrainStepSession } from './onnx-train-session.js';
import { hwioToOihw, oihwToHwio } from './onnx-resnet-graph.js';
import { resnetInitialVariables, resnetLayout, type ResNetLayout, type Stem } from './resnet-layout.js';
import { classifierHeadInitial } from './classifier-head.js';
import type { NamedArray } from './save.js';

/** A classifier's configuration, as `Classifier.options` (and its saved manifest). */
export interface ClassifierConfig {
  numClasses: number;
  width: number;
  imageSize: number;
  stem: Stem;
  seed: number;
  momentum: number;
  weightDecay: number;
  decay: 'weights' | 'all';
}

/** Result of one training step. */
export interface OnnxStepResult {
  loss: number;
  correct: number;
}

/**
 * A classifier trainer on onnxruntime.
 *
 * @example
 *   const clf = await OnnxClassifier.create(config, null, { device: 'auto', threads: 2 });
 *   const { loss, correct } = await clf.step(cropFlipToArray(px, n, 32, rng), labels, 0.1);
 *   await writeModel('out/model', 'classifier', config, null, clf.arrays(), null);
 */
export class OnnxClassifier {
  readonly config: ClassifierConfig;
  readonly layout: ResNetLayout;
  private readonly where: OnnxTrainDevice;
  private readonly sessions: StepSessions;
  private readonly state: Map<string, Float32Array>;
  private readonly shapes: Map<string, number[]>;
  private providerName: 'cuda' | 'cpu' | undefined;

  private constructor(config: ClassifierConfig, state: Map<string, Float32Array>, shapes: Map<string, number[]>, where: OnnxTrainDevice) {
    this.config = config;
    this.layout = resnetLayout(config);
    this.state = state;
    this.shapes = shapes;
    this.where = where;
    this.sessions = new StepSessions(where);
  }

  /**
   * A trainer from a saved classifier's arrays (by their saved names: `encoder/...`,
   * `head/...`, `momentum/...`), or fresh with the seeded initial weights when null.
   */
  static async create(config: ClassifierConfig, arrays: Map<string, Float32Array> | null, where: OnnxTrainDevice): Promise<OnnxClassifier> {
    const layout = resnetLayout(config);
    const initial = resnetInitialVariables(layout);
    const shapes = new Map<string, number[]>(initial.map((v) => [`encoder/${v.name}`, v.shape]));
    shapes.set('head/weight', [layout.featureDim, config.numClasses]);
    shapes.set('head/bias', [config.numClasses]);
    const head = arrays ? null : classifierHeadInitial(layout.featureDim, config.numClasses, config.seed);
    const saved = (name: string): Float32Array => {
      const a = arrays?.get(name);
      if (arrays && !a) throw new Error(`saved classifier has no array ${name}`);
      return a!;
    };
    const value = (name: string): Float32Array => {
      if (arrays) return saved(name);
      if (name === 'head/weight') return head!.weight;
      if (name === 'head/bias') return head!.bias;
      return initial.find((v) => `encoder/${v.name}` === name)!.values;
    };
    const toGraph = (name: string, values: Float32Array) => (shapes.get(name)!.length === 4 ? hwioToOihw(values, shapes.get(name)!) : values.slice());
    const state = new Map<string, Float32Array>();
    for (const v of classifierVariables(layout, config.numClasses)) {
      state.set(`param/${v.name}`, toGraph(v.name, value(v.name)));
      state.set(`momentum/${v.name}`, arrays ? toGraph(v.name, saved(`momentum/${v.name}`)) : new Float32Array(value(v.name).length));
    }
    for (const v of initial) if (!v.trainable) state.set(`stat/encoder/${v.name}`, value(`encoder/${v.name}`).slice());
    return new OnnxClassifier(config, state, shapes, where);
  }

  /** Where the steps run, once the first step opened its session. */
  get provider(): 'cuda' | 'cpu' | undefined {
    return this.providerName;
  }

  /**
   * One SGD step on the cross-entropy of `n` normalised NHWC images with their labels, at
   * learning rate `lr`. Returns the loss and the rows predicted right, both before the update.
   */
  async step(images: Float32Array, labels: ArrayLike<number>, lr: number): Promise<OnnxStepResult> {
    const n = labels.length;
    const S = this.layout.imageSize;
    const K = this.config.numClasses;
    if (images.length !== n * S * S * 3) throw new Error(`Expected ${n} images of ${S}x${S}x3 floats, got ${images.length} values`);
    const onehot = new Float32Array(n * K);
    for (let i = 0; i < n; i++) {
      const k = labels[i];
      if (!Number.isInteger(k) || k < 0 || k >= K) throw new Error(`label ${k} is outside [0, ${K})`);
      onehot[i * K + k] = 1;
    }
    const session = await this.session(n);
    const out = await session.run(this.state, { images: [images, [n, S, S, 3]], onehot: [onehot, [n, K]], lr: [Float32Array.of(lr), []] });
    let correct = 0;
    for (let i = 0; i < n; i++) {
      let best = 0;
      for (let k = 1; k < K; k++) if (out.logits[i * K + k] > out.logits[i * K + best]) best = k;
      if (best === labels[i]) correct++;
    }
    return { loss: out.loss[0], correct };
  }

  /** Sets every momentum buffer to zero (before fine-tuning). */
  resetMomentum(): void {
    for (const [name, v] of this.state) if (name.startsWith('momentum/')) this.state.set(name, new Float32Array(v.length));
  }

  /** The whole state in the saved layout of `saveClassifier` (HWIO filters). */
  arrays(): NamedArray[] {
    const out: NamedArray[] = [];
    const fromGraph = (name: string, values: Float32Array) => (this.shapes.get(name)!.length === 4 ? oihwToHwio(values, this.shapes.get(name)!) : values.slice());
    for (const v of resnetInitialVariables(this.layout)) {
      const name = `encoder/${v.name}`;
      out.push({ name, values: fromGraph(name, this.state.get(v.trainable ? `param/${name}` : `stat/${name}`)!), shape: v.shape });
    }
    for (const name of ['head/weight', 'head/bias']) out.push({ name, values: this.state.get(`param/${name}`)!.slice(), shape: this.shapes.get(name) });
    for (const v of classifierVariables(this.layout, this.config.numClasses)) {
      out.push({ name: `momentum/${v.name}`, values: fromGraph(v.name, this.state.get(`momentum/${v.name}`)!), shape: this.shapes.get(v.name) });
    }
    return out;
  }

  /** Frees the open session. */
  async close(): Promise<void> {
    await this.sessions.close();
  }

  private async session(n: number): Promise<TrainStepSession> {
    const { numClasses, momentum, weightDecay, decay } = this.config;
    const session = await this.sessions.get(n, () => classifierStepGraph(this.layout, n, { numClasses, momentum, weightDecay, decay }), `classifier step (batch ${n})`);
    this.providerName = session.provider;
    return session;
  }

}
