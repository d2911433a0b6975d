/**
 * The ResNet-18 of gssd as data: its layers, their variable names, shapes and seeded initial
 * values. One description for both engines: the TensorFlow.js `ResNet` builds its variables
 * from it, and the ONNX training graph (`onnx-resnet-graph.ts`) its nodes, so the two start
 * from the same weights and save under the same names.
 *
 * `stem: 'cifar'`: 3x3 conv stride 1, no max-pool; `imagenet`: 7x7 conv stride 2 + 3x3
 * max-pool stride 2. Then 4 stages x 2 basic blocks of widths w, 2w, 4w, 8w (1x1 conv + BN
 * shortcut where the shape changes), global average pool -> h of dimension 8w.
 */
import { Rng } from '../rng.js';

export type Stem = 'cifar' | 'imagenet';

export interface ResNetOptions {
  /** Width of the first stage (64 in the paper; 16 or 32 on a CPU). Default 64. */
  width?: number;
  /** Side of the square input images. Default 32. */
  imageSize?: number;
  /** Stem variant. Default 'cifar' for images under 64 px, else 'imagenet'. */
  stem?: Stem;
  /** Seed of the He initialisation. Default 0. */
  seed?: number;
}

/** BatchNorm momentum (PyTorch convention: running = (1 - m) running + m batch). */
export const BN_MOMENTUM = 0.1;
/** BatchNorm epsilon (PyTorch default). */
export const BN_EPS = 1e-5;

/** One convolution followed by BatchNorm: `${conv}` is the filter, `${bn}.gamma` etc. its BatchNorm. */
export interface ConvBn {
  conv: string;
  bn: string;
  k: number;
  stride: number;
  inC: number;
  outC: number;
}

/** A basic block: conv1-BN-ReLU, conv2-BN, plus the identity or a 1x1 conv-BN shortcut, then ReLU. */
export interface BlockLayout {
  conv1: ConvBn;
  conv2: ConvBn;
  shortcut?: ConvBn;
}

/** The whole network. */
export interface ResNetLayout extends Required<ResNetOptions> {
  featureDim: number;
  stemConv: ConvBn;
  blocks: BlockLayout[];
}

/** One named variable with its initial value (conv filters HWIO, as TensorFlow.js). */
export interface InitialVariable {
  name: string;
  shape: number[];
  values: Float32Array;
  trainable: boolean;
}

/**
 * The layers of a ResNet-18 with the given options (defaults filled in, checked).
 *
 * @example
 *   const layout = resnetLayout({ width: 16 });   // layout.featureDim === 128
 */
export function resnetLayout(options: ResNetOptions = {}): ResNetLayout {
  const width = options.width ?? 64;
  const imageSize = options.imageSize ?? 32;
  const stem = options.stem ?? (imageSize < 64 ? 'cifar' : 'imagenet');
  const seed = options.seed ?? 0;
  if (!Number.isInteger(width) || width < 1) throw new Error(`Expected \`width\` to be an integer from 1 and up, got \`${width}\``);
  const stemConv: ConvBn = { conv: 'stem.conv', bn: 'stem.bn', k: stem === 'cifar' ? 3 : 7, stride: stem === 'cifar' ? 1 : 2, inC: 3, outC: width };
  const blocks: BlockLayout[] = [];
  let inC = width;
  [1, 2, 4, 8].forEach((mult, s) => {
    const outC = mult * width;
    for (let b = 0; b < 2; b++) {
      const stride = b === 0 && s > 0 ? 2 : 1;
      const p = `layer${s + 1}.${b}`;
      const block: BlockLayout = {
        conv1: { conv: `${p}.conv1`, bn: `${p}.bn1`, k: 3, stride, inC, outC },
        conv2: { conv: `${p}.conv2`, bn: `${p}.bn2`, k: 3, stride: 1, inC: outC, outC },
      };
      if (stride !== 1 || inC !== outC) block.shortcut = { conv: `${p}.shortcut.conv`, bn: `${p}.shortcut.bn`, k: 1, stride, inC, outC };
      blocks.push(block);
      inC = outC;
    }
  });
  return { width, imageSize, stem, seed, featureDim: inC, stemConv, blocks };
}

/**
 * Every conv-BN of the network in order (stem, then per block conv1, conv2, shortcut).
 *
 * @example
 *   for (const c of convBns(layout)) console.log(c.conv, c.outC);
 */
export function convBns(layout: ResNetLayout): ConvBn[] {
  return [layout.stemConv, ...layout.blocks.flatMap((b) => [b.conv1, b.conv2, ...(b.shortcut ? [b.shortcut] : [])])];
}

/**
 * The variables of the network in their stable order, with seeded initial values: He
 * (Kaiming normal, fan_out, as torchvision) filters in HWIO, BatchNorm gamma 1, beta 0,
 * running mean 0, running variance 1.
 *
 * @example
 *   const vars = resnetInitialVariables(resnetLayout({ width: 16, seed: 1 }));
 */
export function resnetInitialVariables(layout: ResNetLayout): InitialVariable[] {
  const rng = new Rng(layout.seed);
  const out: InitialVariable[] = [];
  for (const c of convBns(layout)) {
    const std = Math.sqrt(2 / (c.k * c.k * c.outC));
    const values = new Float32Array(c.k * c.k * c.inC * c.outC);
    for (let i = 0; i < values.length; i++) values[i] = rng.normal() * std;
    out.push(
      { name: c.conv, shape: [c.k, c.k, c.inC, c.outC], values, trainable: true },
      { name: `${c.bn}.gamma`, shape: [c.outC], values: new Float32Array(c.outC).fill(1), trainable: true },
      { name: `${c.bn}.beta`, shape: [c.outC], values: new Float32Array(c.outC), trainable: true },
      { name: `${c.bn}.running_mean`, shape: [c.outC], values: new Float32Array(c.outC), trainable: false },
      { name: `${c.bn}.running_var`, shape: [c.outC], values: new Float32Array(c.outC).fill(1), trainable: false },
    );
  }
  return out;
}
