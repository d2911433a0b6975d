import type { SchemaTree } from 'hyparquet';
import { Binary, Bool, DataType, Field, Float32, Float64, Int32, Int64, Struct, Utf8 } from 'apache-arrow';

/**
 * How one top-level Parquet column becomes an Arrow column. `json` marks a column whose
 * Parquet type has no plain Arrow counterpart here (lists, maps, dates, decimals, ...):
 * it is carried as Utf8 holding the JSON of each value.
 */
export interface ColumnPlan {
  name: string;
  type: DataType;
  nullable: boolean;
  json: boolean;
  /** Human-readable Parquet type, for messages: `INT32`, `BYTE_ARRAY (UTF8)`, `group`. */
  parquetType: string;
  /** True for a primitive integer column (INT32/INT64 without a date/time/decimal meaning). */
  integer: boolean;
}

const INTEGER_CONVERTED = new Set([undefined, 'INT_8', 'INT_16', 'INT_32', 'INT_64', 'UINT_8', 'UINT_16', 'UINT_32', 'UINT_64']);

/**
 * How a top-level Parquet schema node maps to an Arrow column (see {@link ColumnPlan}).
 *
 * @example
 *   const plan = planColumn(parquetSchema(metadata).children[0]);
 */
export function planColumn(node: SchemaTree): ColumnPlan {
  const { element } = node;
  const nullable = element.repetition_type !== 'REQUIRED';
  const type = arrowType(node);
  return {
    name: element.name,
    type: type ?? new Utf8(),
    nullable: type ? nullable : true,
    json: !type,
    parquetType: describeParquetType(node),
    integer: !node.children.length && (element.type === 'INT32' || element.type === 'INT64') && isPlainInteger(node),
  };
}

function isPlainInteger(node: SchemaTree): boolean {
  const { converted_type, logical_type } = node.element;
  if (logical_type && logical_type.type !== 'INTEGER') return false;
  return INTEGER_CONVERTED.has(converted_type);
}

function arrowType(node: SchemaTree): DataType | null {
  const { element } = node;
  if (element.repetition_type === 'REPEATED') return null;
  if (node.children.length) {
    if (element.converted_type || element.logical_type) return null; // LIST, MAP, VARIANT...
    const fields: Field[] = [];
    for (const child of node.children) {
      const childType = arrowType(child);
      if (!childType) return null;
      fields.push(new Field(child.element.name, childType, child.element.repetition_type !== 'REQUIRED'));
    }
    return new Struct(fields);
  }
  const { converted_type, logical_type } = element;
  switch (element.type) {
    case 'BOOLEAN':
      return new Bool();
    case 'INT32':
      if (!isPlainInteger(node)) return null;
      return converted_type === 'UINT_32' || (logical_type?.type === 'INTEGER' && !logical_type.isSigned && logical_type.bitWidth === 32)
        ? new Int64()
        : new Int32();
    case 'INT64':
      return isPlainInteger(node) ? new Int64() : null;
    case 'FLOAT':
      return logical_type ? null : new Float32();
    case 'DOUBLE':
      return new Float64();
    case 'BYTE_ARRAY':
      if (converted_type === 'UTF8' || converted_type === 'ENUM' || logical_type?.type === 'STRING' || logical_type?.type === 'ENUM') return new Utf8();
      return converted_type || logical_type ? null : new Binary();
    case 'FIXED_LEN_BYTE_ARRAY':
      return converted_type || logical_type ? null : new Binary();
    default:
      return null;
  }
}

/** `INT32`, `BYTE_ARRAY (UTF8)`, `group` and the like. */
export function describeParquetType(node: SchemaTree): string {
  const { element } = node;
  if (node.children.length) return element.converted_type ?? element.logical_type?.type ?? 'group';
  const extra = element.logical_type?.type ?? element.converted_type;
  return extra ? `${element.type} (${extra})` : String(element.type);
}
