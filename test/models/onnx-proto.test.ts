import { describe, expect, it } from 'vitest';
import { ProtoWriter, WIRE_BYTES, WIRE_FIXED32, WIRE_VARINT, readFields } from '../../src/models/onnx-proto.js';
import { encodeOnnxModel, ONNX_FLOAT, readOnnxMetadata } from '../../src/models/onnx-model.js';

describe('protobuf wire format', () => {
  it('writes known bytes', () => {
    // the protobuf documentation's examples: field 1 = 150; field 2 = "testing"
    expect([...new ProtoWriter().varint(1, 150).finish()]).toEqual([0x08, 0x96, 0x01]);
    expect([...new ProtoWriter().string(2, 'testing').finish()]).toEqual([0x12, 0x07, 0x74, 0x65, 0x73, 0x74, 0x69, 0x6e, 0x67]);
    // packed repeated [3, 270, 86942] in field 4
    expect([...new ProtoWriter().packedVarints(4, [3, 270, 86942]).finish()]).toEqual([0x22, 0x06, 0x03, 0x8e, 0x02, 0x9e, 0xa7, 0x05]);
    // -1 as int64: ten bytes
    expect(new ProtoWriter().varint(1, -1).finish().length).toBe(11);
  });

  it('reads back what it writes, nested messages included', () => {
    const inner = new ProtoWriter().varint(1, 2 ** 40).float(2, 1.5);
    const bytes = new ProtoWriter().string(1, 'a').message(3, inner).varint(4, 7).finish();
    const fields = [...readFields(bytes)];
    expect(fields.map((f) => [f.field, f.wire])).toEqual([
      [1, WIRE_BYTES],
      [3, WIRE_BYTES],
      [4, WIRE_VARINT],
    ]);
    const nested = [...readFields(fields[1].value as Uint8Array)];
    expect(nested).toEqual([
      { field: 1, wire: WIRE_VARINT, value: 2 ** 40 },
      { field: 2, wire: WIRE_FIXED32, value: 1.5 },
    ]);
    expect(() => [...readFields(bytes.subarray(0, bytes.length - 1))]).toThrow('truncated');
  });

  it('round-trips ONNX metadata_props', () => {
    const bytes = encodeOnnxModel({
      graphName: 'g',
      opset: 17,
      inputs: [{ name: 'x', elemType: ONNX_FLOAT, shape: ['N', 2] }],
      outputs: [{ name: 'y', elemType: ONNX_FLOAT, shape: ['N', 2] }],
      nodes: [{ op: 'Relu', inputs: ['x'], outputs: ['y'] }],
      initializers: [],
      metadata: { a: '1', 'ünï': '[0.5]' },
    });
    expect(readOnnxMetadata(bytes)).toEqual({ a: '1', 'ünï': '[0.5]' });
  });
});
