/**
 * A small builder of ONNX graphs with static shapes: gssd writes its training steps with it
 * (forward, backward and optimiser update as one graph, `onnx-autodiff.ts`). Every value is
 * a name; the builder knows each value's shape, hands out fresh names and keeps constants
 * as initializers (scalars shared). Standard ONNX operators only, opset 17, so the CPU and
 * the CUDA execution providers run the same graph.
 */
import { encodeOnnxModel, ONNX_FLOAT, type AttributeValue, type OnnxInitializer, type OnnxNode, type OnnxValueInfo } from './onnx-model.js';

/** Default-domain opset of the generated graphs (ReduceMean takes axes as an attribute, ReduceSum as an input). */
export const TRAIN_OPSET = 17;

/** A value of the graph: its name and static shape. */
export interface Value {
  name: string;
  shape: number[];
}

/**
 * Product of a shape's dimensions.
 *
 * @example
 *   sizeOf([2, 3, 4]);   // 24
 */
export function sizeOf(shape: readonly number[]): number {
  return shape.reduce((a, b) => a * b, 1);
}

/**
 * Builds one graph node by node.
 *
 * @example
 *   const g = new OnnxGraph();
 *   const x = g.input('x', [4, 3]);
 *   const y = g.op('Relu', [x], x.shape);
 *   g.output('y', y);
 *   const bytes = g.encode('relu');
 */
export class OnnxGraph {
  private readonly nodes: OnnxNode[] = [];
  private readonly initializers: OnnxInitializer[] = [];
  private readonly inputs: OnnxValueInfo[] = [];
  private readonly outputs: OnnxValueInfo[] = [];
  private readonly constants = new Map<string, Value>();
  private next = 0;

  /** A graph input of type float32. */
  input(name: string, shape: number[]): Value {
    this.inputs.push({ name, elemType: ONNX_FLOAT, shape });
    return { name, shape };
  }

  /** Declares `value` a graph output named `name` (an Identity node when the names differ). */
  output(name: string, value: Value): void {
    if (value.name !== name) this.nodes.push({ op: 'Identity', inputs: [value.name], outputs: [name] });
    this.outputs.push({ name, elemType: ONNX_FLOAT, shape: value.shape });
  }

  /** One node with one output of the given shape. */
  op(op: string, inputs: (Value | string)[], shape: number[], attributes?: Record<string, AttributeValue>): Value {
    const name = `${op.toLowerCase()}_${this.next++}`;
    this.nodes.push({ op, inputs: inputs.map((v) => (typeof v === 'string' ? v : v.name)), outputs: [name], name, attributes });
    return { name, shape };
  }

  /** One node with several outputs of the given shapes. */
  opMulti(op: string, inputs: (Value | string)[], shapes: number[][], attributes?: Record<string, AttributeValue>): Value[] {
    const base = `${op.toLowerCase()}_${this.next++}`;
    const outs = shapes.map((shape, i) => ({ name: `${base}_${i}`, shape }));
    this.nodes.push({ op, inputs: inputs.map((v) => (typeof v === 'string' ? v : v.name)), outputs: outs.map((o) => o.name), name: base, attributes });
    return outs;
  }

  /** A float32 constant (scalars and small vectors are shared by value). */
  constant(values: ArrayLike<number>, dims: number[] = []): Value {
    const key = values.length <= 16 ? `f:${dims.join('x')}:${Array.from(values).join(',')}` : undefined;
    const known = key ? this.constants.get(key) : undefined;
    if (known) return known;
    const v = { name: `const_${this.next++}`, shape: dims };
    this.initializers.push({ name: v.name, dims, values: Float32Array.from(values) });
    if (key) this.constants.set(key, v);
    return v;
  }

  /** An int64 constant (shapes, axes, slice bounds), shared by value. */
  ints(values: readonly number[]): Value {
    const key = `i:${values.join(',')}`;
    const known = this.constants.get(key);
    if (known) return known;
    const v = { name: `ints_${this.next++}`, shape: [values.length] };
    this.initializers.push({ name: v.name, dims: [values.length], values: { int64: [...values] } });
    this.constants.set(key, v);
    return v;
  }

  /** `x` reshaped (no copy in onnxruntime). */
  reshape(x: Value, shape: number[]): Value {
    if (sizeOf(shape) !== sizeOf(x.shape)) throw new Error(`cannot reshape [${x.shape}] to [${shape}]`);
    if (shape.join() === x.shape.join()) return x;
    return this.op('Reshape', [x, this.ints(shape)], shape);
  }

  /** Sum of `x` over `axes`, keeping them as size-1 dimensions when `keep`. */
  reduceSum(x: Value, axes: number[], keep: boolean): Value {
    return this.op('ReduceSum', [x, this.ints(axes)], reducedShape(x.shape, axes, keep), { keepdims: keep ? 1 : 0 });
  }

  /** Mean of `x` over `axes`. */
  reduceMean(x: Value, axes: number[], keep: boolean): Value {
    return this.op('ReduceMean', [x], reducedShape(x.shape, axes, keep), { axes, keepdims: keep ? 1 : 0 });
  }

  /** An elementwise binary op with numpy broadcasting. */
  binary(op: 'Add' | 'Sub' | 'Mul' | 'Div', a: Value, b: Value): Value {
    return this.op(op, [a, b], broadcastShape(a.shape, b.shape));
  }

  /** Transpose by `perm`. */
  transpose(x: Value, perm: number[]): Value {
    return this.op('Transpose', [x], perm.map((p) => x.shape[p]), { perm });
  }

  /** The model bytes. */
  encode(graphName: string, docString?: string): Uint8Array {
    return encodeOnnxModel({
      graphName,
      opset: TRAIN_OPSET,
      producer: 'gssd',
      docString,
      nodes: this.nodes,
      initializers: this.initializers,
      inputs: this.inputs,
      outputs: this.outputs,
    });
  }
}

function reducedShape(shape: number[], axes: number[], keep: boolean): number[] {
  const out: number[] = [];
  shape.forEach((d, i) => {
    if (!axes.includes(i)) out.push(d);
    else if (keep) out.push(1);
  });
  return out;
}

function broadcastShape(a: number[], b: number[]): number[] {
  const n = Math.max(a.length, b.length);
  const out: number[] = [];
  for (let i = 0; i < n; i++) {
    const x = a[a.length - n + i] ?? 1;
    const y = b[b.length - n + i] ?? 1;
    if (x !== y && x !== 1 && y !== 1) throw new Error(`cannot broadcast [${a}] with [${b}]`);
    out.push(Math.max(x, y));
  }
  return out;
}
