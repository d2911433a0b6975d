/**
 * Gradient checkpointing on an ONNX `Tape`: a segment of the forward pass (a residual block,
 * say) runs once without keeping anything for the backward pass, and the backward pass runs
 * it again from its input, keeps that copy's activations just long enough for the segment's
 * own backward, and frees them before the next segment's. Peak memory then holds the
 * segments' inputs plus one segment's activations instead of every activation, for one more
 * forward pass of the checkpointed segments.
 *
 * The recomputation gives the same values (same nodes on the same inputs; onnxruntime's CPU
 * kernels are deterministic for a fixed thread count), so the gradients are those of the plain
 * graph up to the summation order of the parts that change shape.
 *
 * Two things keep onnxruntime from undoing it, both without changing a value:
 * - its common-subexpression elimination would merge the copy with the forward pass (same
 *   op, same inputs) and so keep the forward's activations alive: the copy reads its weights
 *   through `Where(flag, w, w)`, which is w, bit for bit, whatever the flag;
 * - its scheduler may run a node as soon as its inputs exist: the flag is computed from the
 *   segment's output gradient and from the previous recomputed segment's input gradient, so
 *   a copy starts only when its gradient is there and the segment before it (in backward
 *   order) is done, one segment's activations at a time.
 */
import { Tape, firstElement } from './onnx-autodiff.js';
import type { Value } from './onnx-graph.js';

/** A graph value by variable name and shape (as `resnetForward`'s `weight`). */
export type WeightFn = (name: string, shape: number[]) => Value;

/** A segment: reads `x` and weights through `weight`, records its ops on `t`, returns `y` and anything else. */
export type Segment<R> = (t: Tape, x: Value, weight: WeightFn) => { y: Value; extra: R };

/** By tape: a scalar-sized value the last recomputed segment's backward produced (orders the next). */
const lastDone = new WeakMap<Tape, Value>();

/**
 * Adds `segment` reading `x` as a checkpointed op of `t`: its outputs (`y`, and `extra`,
 * which gets no gradient) come from a pass that keeps nothing; the backward pass recomputes
 * it. `segment` must be pure (the same nodes each call).
 *
 * @example
 *   const { y, extra: stats } = checkpoint(t, x, weight, (t2, x2, w2) => basicBlock(t2, x2, w2));
 */
export function checkpoint<R>(t: Tape, x: Value, weight: WeightFn, segment: Segment<R>): { y: Value; extra: R } {
  const g = t.g;
  const used = new Map<string, Value>();
  const forward = segment(new Tape(g), x, (name, shape) => {
    const w = weight(name, shape);
    used.set(w.name, w);
    return w;
  });
  t.record(forward.y, [x, ...used.values()], () => {
    const dy = t.gradOf(forward.y);
    if (!dy) return;
    const flag = orderFlag(t, dy);
    const t2 = new Tape(g);
    const withX = t.needsGrad(x);
    if (withX) t2.param(x);
    const copies = new Map<string, { original: Value; copy: Value }>();
    const again = segment(t2, x, (name, shape) => {
      const w = weight(name, shape);
      let entry = copies.get(w.name);
      if (!entry) {
        entry = { original: w, copy: g.op('Where', [flag, w, w], w.shape) };
        if (t.needsGrad(w)) t2.param(entry.copy);
        copies.set(w.name, entry);
      }
      return entry.copy;
    });
    const trained = [...copies.values()].filter((c) => t.needsGrad(c.original));
    const grads = t2.backwardFrom([[again.y, dy]], [...(withX ? [x] : []), ...trained.map((c) => c.copy)]);
    for (const c of trained) t.accumulate(c.original, grads.get(c.copy.name)!);
    let done: Value | undefined;
    if (withX) {
      done = grads.get(x.name)!;
      t.accumulate(x, done);
    } else done = trained.length > 0 ? grads.get(trained[0].copy.name)! : undefined;
    if (done) lastDone.set(t, firstElement(g, done));
  });
  return forward;
}

/** A bool [1] that depends on `dy` and on the previous recomputed segment's gradient. */
function orderFlag(t: Tape, dy: Value): Value {
  const g = t.g;
  let probe = firstElement(g, dy);
  const previous = lastDone.get(t);
  if (previous) probe = g.binary('Add', probe, previous);
  return g.op('IsNaN', [probe], [1]);
}
