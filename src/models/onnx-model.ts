/**
 * The ONNX file format (onnx.proto) as far as gssd needs it: writing a ModelProto with one
 * graph of nodes, float32 initializers, typed inputs/outputs and string metadata; reading a
 * model's `metadata_props` back. Field numbers follow onnx.proto (IR version 8).
 */
import { ProtoWriter, WIRE_BYTES, readFields } from './onnx-proto.js';

/** TensorProto.DataType values used here. */
export const ONNX_FLOAT = 1;
export const ONNX_UINT8 = 2;
export const ONNX_INT64 = 7;

/** IR version written (ONNX 1.10+; onnxruntime reads it). */
export const IR_VERSION = 8;

/** An attribute value: number INT, number[] INTS, string STRING, `{ float }` FLOAT. */
export type AttributeValue = number | number[] | string | { float: number };

/** One graph node. */
export interface OnnxNode {
  op: string;
  inputs: string[];
  outputs: string[];
  name?: string;
  attributes?: Record<string, AttributeValue>;
}

/** A float32 (or int64) constant of the graph. */
export interface OnnxInitializer {
  name: string;
  dims: number[];
  /** float32 values, or int64 values given as plain numbers. */
  values: Float32Array | { int64: number[] };
}

/** A graph input or output: element type and shape (a string is a symbolic dimension). */
export interface OnnxValueInfo {
  name: string;
  elemType: number;
  shape: (number | string)[];
}

/** Everything of a one-graph model. */
export interface OnnxModelSpec {
  graphName: string;
  nodes: OnnxNode[];
  initializers: OnnxInitializer[];
  inputs: OnnxValueInfo[];
  outputs: OnnxValueInfo[];
  /** Default-domain opset version (13 and up for the ops used here). */
  opset: number;
  producer?: string;
  producerVersion?: string;
  docString?: string;
  metadata?: Record<string, string>;
}

function tensorProto(t: OnnxInitializer): ProtoWriter {
  const w = new ProtoWriter();
  w.packedVarints(1, t.dims); // dims
  const count = t.dims.reduce((a, b) => a * b, 1);
  if (t.values instanceof Float32Array) {
    if (t.values.length !== count) throw new Error(`initializer ${t.name}: ${t.values.length} values for shape [${t.dims}]`);
    w.varint(2, ONNX_FLOAT); // data_type
    w.string(8, t.name); // name
    w.bytes(9, float32LittleEndian(t.values)); // raw_data
  } else {
    if (t.values.int64.length !== count) throw new Error(`initializer ${t.name}: ${t.values.int64.length} values for shape [${t.dims}]`);
    w.varint(2, ONNX_INT64);
    w.string(8, t.name);
    w.packedVarints(7, t.values.int64); // int64_data
  }
  return w;
}

function attributeProto(name: string, value: AttributeValue): ProtoWriter {
  const w = new ProtoWriter();
  w.string(1, name); // name
  if (typeof value === 'number') {
    w.varint(20, 2).varint(3, value); // type INT, i
  } else if (Array.isArray(value)) {
    w.varint(20, 7).packedVarints(8, value); // type INTS, ints
  } else if (typeof value === 'string') {
    w.varint(20, 3).string(4, value); // type STRING, s
  } else {
    w.varint(20, 1).float(2, value.float); // type FLOAT, f
  }
  return w;
}

function nodeProto(n: OnnxNode): ProtoWriter {
  const w = new ProtoWriter();
  for (const i of n.inputs) w.string(1, i);
  for (const o of n.outputs) w.string(2, o);
  if (n.name) w.string(3, n.name);
  w.string(4, n.op); // op_type
  for (const [k, v] of Object.entries(n.attributes ?? {})) w.message(5, attributeProto(k, v));
  return w;
}

function valueInfoProto(v: OnnxValueInfo): ProtoWriter {
  const shape = new ProtoWriter();
  for (const d of v.shape) {
    const dim = new ProtoWriter();
    if (typeof d === 'number') dim.varint(1, d); // dim_value
    else dim.string(2, d); // dim_param
    shape.message(1, dim);
  }
  const tensor = new ProtoWriter().varint(1, v.elemType).message(2, shape); // elem_type, shape
  const type = new ProtoWriter().message(1, tensor); // TypeProto.tensor_type
  return new ProtoWriter().string(1, v.name).message(2, type);
}

/**
 * Encodes a one-graph ONNX model.
 *
 * @example
 *   const bytes = encodeOnnxModel({
 *     graphName: 'g', opset: 17,
 *     inputs: [{ name: 'x', elemType: ONNX_FLOAT, shape: ['N', 4] }],
 *     outputs: [{ name: 'y', elemType: ONNX_FLOAT, shape: ['N', 4] }],
 *     nodes: [{ op: 'Relu', inputs: ['x'], outputs: ['y'] }], initializers: [],
 *   });
 */
export function encodeOnnxModel(spec: OnnxModelSpec): Uint8Array {
  const graph = new ProtoWriter();
  for (const n of spec.nodes) graph.message(1, nodeProto(n));
  graph.string(2, spec.graphName);
  for (const t of spec.initializers) graph.message(5, tensorProto(t));
  for (const i of spec.inputs) graph.message(11, valueInfoProto(i));
  for (const o of spec.outputs) graph.message(12, valueInfoProto(o));

  const model = new ProtoWriter();
  model.varint(1, IR_VERSION); // ir_version
  if (spec.producer) model.string(2, spec.producer);
  if (spec.producerVersion) model.string(3, spec.producerVersion);
  if (spec.docString) model.string(6, spec.docString);
  model.message(7, graph); // graph
  model.message(8, new ProtoWriter().string(1, '').varint(2, spec.opset)); // opset_import
  for (const [key, value] of Object.entries(spec.metadata ?? {})) {
    model.message(14, new ProtoWriter().string(1, key).string(2, value)); // metadata_props
  }
  return model.finish();
}

/**
 * The `metadata_props` of an ONNX model (key -> value), read without decoding the graph.
 *
 * @example
 *   const meta = readOnnxMetadata(await readFile('encoder.onnx'));   // { gssd_image_size: '32', ... }
 */
export function readOnnxMetadata(bytes: Uint8Array): Record<string, string> {
  const text = new TextDecoder();
  const out: Record<string, string> = {};
  for (const f of readFields(bytes)) {
    if (f.field !== 14 || f.wire !== WIRE_BYTES) continue;
    let key = '';
    let value = '';
    for (const e of readFields(f.value)) {
      if (e.wire !== WIRE_BYTES) continue;
      if (e.field === 1) key = text.decode(e.value);
      else if (e.field === 2) value = text.decode(e.value);
    }
    out[key] = value;
  }
  return out;
}

function float32LittleEndian(values: Float32Array): Uint8Array {
  const bytes = new Uint8Array(values.byteLength);
  const view = new DataView(bytes.buffer);
  for (let i = 0; i < values.length; i++) view.setFloat32(i * 4, values[i], true);
  return bytes;
}
