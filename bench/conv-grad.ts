/**
 * One 3x3 convolution layer's gradients on onnxruntime, by alternative graphs, to choose the
 * ones the training graphs use (ms per call, best of a few):
 *   dX: ConvTranspose of dY, or a Conv of dY with the filter transposed and flipped (stride 1);
 *   dW: Gemm per tap (gssd's), or one Conv over the transposed tensors.
 * And the forward convolution with its filter a graph input (as in a training graph) against
 * the same filter as a constant: onnxruntime runs only the latter on its blocked (NCHWc)
 * kernels, which its layout optimiser sets up from constant filters. Both in a chain of 4
 * convolutions summed to a scalar (no large output to copy out), ms per convolution.
 *
 *   npm run bench:build && node .bench-build/bench/conv-grad.js [--threads 2]
 */
import type * as Ort from 'onnxruntime-node';
import { loadOnnxRuntime } from '../src/models/onnx-runtime.js';
import { OnnxGraph } from '../src/models/onnx-graph.js';
import { Tape, conv2d, weightedSum } from '../src/models/onnx-autodiff.js';
import { Rng } from '../src/rng.js';
import { arg } from './lib/args.js';

const ort = await loadOnnxRuntime('conv-grad bench');

const threads = Number(arg('threads', '2'));
/** Convolutions in the chained forward graphs. */
const CHAIN = 4;
const rng = new Rng(0);
const rand = (n: number) => Float32Array.from({ length: n }, () => rng.normal());

async function time(bytes: Uint8Array, feeds: Record<string, Ort.Tensor>, reps = 3): Promise<number> {
  const s = await ort.InferenceSession.create(bytes, { intraOpNumThreads: threads, interOpNumThreads: 1, graphOptimizationLevel: 'all' });
  await s.run(feeds);
  let best = Infinity;
  for (let i = 0; i < reps; i++) {
    const t0 = performance.now();
    await s.run(feeds);
    best = Math.min(best, performance.now() - t0);
  }
  await s.release();
  return best;
}

for (const [N, C, H] of [[256, 16, 32], [128, 64, 32], [256, 32, 16], [128, 256, 8], [256, 128, 4]]) {
  const xs = [N, C, H, H];
  const ws = [C, C, 3, 3];
  const feeds = { x: new ort.Tensor('float32', rand(N * C * H * H), xs), w: new ort.Tensor('float32', rand(C * C * 9), ws), dy: new ort.Tensor('float32', rand(N * C * H * H), xs) };
  const fwd = new OnnxGraph();
  fwd.output('y', fwd.op('Conv', [fwd.input('x', xs), fwd.input('w', ws)], xs, { kernel_shape: [3, 3], pads: [1, 1, 1, 1] }));
  const dxT = new OnnxGraph();
  dxT.output('dx', dxT.op('ConvTranspose', [dxT.input('dy', xs), dxT.input('w', ws)], xs, { kernel_shape: [3, 3], pads: [1, 1, 1, 1] }));
  const dxC = new OnnxGraph();
  const w = dxC.input('w', ws);
  const flipped = dxC.op('Slice', [dxC.transpose(w, [1, 0, 2, 3]), dxC.ints([2, 2]), dxC.ints([-4, -4]), dxC.ints([2, 3]), dxC.ints([-1, -1])], ws);
  dxC.output('dx', dxC.op('Conv', [dxC.input('dy', xs), flipped], xs, { kernel_shape: [3, 3], pads: [1, 1, 1, 1] }));
  // gssd's dW (and dX) as the tape emits them
  const dw = new OnnxGraph();
  const t = new Tape(dw);
  const x = dw.input('x', xs);
  const wp = t.param(dw.input('w', ws));
  const y = conv2d(t, x, wp, { stride: 1, pad: 1 });
  const loss = weightedSum(t, y, dw.input('dy', xs));
  dw.output('dw', t.backward(loss, [wp]).get(wp.name)!);
  const chain = (constant: boolean) => {
    const g = new OnnxGraph();
    const filter = constant ? g.constant(feeds.w.data as Float32Array, ws) : g.input('w', ws);
    let v = g.input('x', xs);
    for (let i = 0; i < CHAIN; i++) v = g.op('Conv', [v, filter], xs, { kernel_shape: [3, 3], pads: [1, 1, 1, 1] });
    g.output('s', g.reduceSum(v, [0, 1, 2, 3], false));
    return g.encode(constant ? 'const' : 'input');
  };
  const f = (v: number) => v.toFixed(1).padStart(7);
  const tf = await time(fwd.encode('f'), { x: feeds.x, w: feeds.w });
  const tT = await time(dxT.encode('t'), { dy: feeds.dy, w: feeds.w });
  const tC = await time(dxC.encode('c'), { dy: feeds.dy, w: feeds.w });
  const tW = await time(dw.encode('w'), feeds);
  const tIn = (await time(chain(false), { x: feeds.x, w: feeds.w })) / CHAIN;
  const tConst = (await time(chain(true), { x: feeds.x })) / CHAIN;
  console.log(`N ${N} C ${C} ${H}x${H}: fwd ${f(tf)}  dX ConvTranspose ${f(tT)}  dX flipped Conv ${f(tC)}  fwd+dW (Gemm per tap) ${f(tW)}  chained fwd, filter input ${f(tIn)} / constant ${f(tConst)} ms`);
}
