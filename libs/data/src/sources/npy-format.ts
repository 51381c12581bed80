/**
 * The NPY byte format (numpy's `np.save`, format versions 1.0, 2.0 and 3.0): the magic bytes
 * `\x93NUMPY`, a major and a minor version byte, the header's length (uint16 little-endian in 1.0,
 * uint32 in 2.0 and 3.0), then the header — a Python dict literal
 * `{'descr': '<f4', 'fortran_order': False, 'shape': (60000, 28, 28), }` in latin-1 (1.0, 2.0) or
 * UTF-8 (3.0), padded with spaces and ended by a newline so that the data start at a multiple of
 * 64 bytes — then the values.
 *
 * Dtypes fedkd reads: unsigned and signed integers of 1, 2, 4 and 8 bytes (`|u1`, `|i1`, `<u2`,
 * `<i2`, `<u4`, `<i4`, `<u8`, `<i8`) and floats of 4 and 8 bytes (`<f4`, `<f8`), in either byte
 * order (`>f4` is converted). Structured dtypes, float16, complex, bool and object arrays are not.
 */
export type NpyKind = 'u' | 'i' | 'f';

export interface NpyDtype {
  /** As written in the header (`<f4`). */
  descr: string;
  kind: NpyKind;
  bytes: 1 | 2 | 4 | 8;
  littleEndian: boolean;
}

export interface NpyHeader {
  version: string;
  descr: string;
  fortranOrder: boolean;
  shape: number[];
  /** Where the values start (header included). */
  dataOffset: number;
}

export type NpyHeaderResult = { ok: true; header: NpyHeader } | { ok: false; reason: string };

export const NPY_MAGIC = Uint8Array.from([0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59]);
const ALIGNMENT = 64;
const SUPPORTED_VERSIONS = ['1.0', '2.0', '3.0'];

/** The dtype a descr names, or null when fedkd cannot read it. */
export function parseNpyDtype(descr: string): NpyDtype | null {
  const match = /^([<>|=])([uif])(\d+)$/.exec(descr);
  if (!match) return null;
  const [, order, kind, size] = match;
  const bytes = Number(size);
  if (bytes !== 1 && bytes !== 2 && bytes !== 4 && bytes !== 8) return null;
  if (kind === 'f' && bytes < 4) return null;
  if (order === '|' && bytes !== 1) return null;
  return { descr, kind: kind as NpyKind, bytes, littleEndian: order !== '>' };
}

/** `uint8`, `int64`, `float32`, ... */
export function npyDtypeName(dtype: NpyDtype): string {
  const base = dtype.kind === 'u' ? 'uint' : dtype.kind === 'i' ? 'int' : 'float';
  return `${base}${dtype.bytes * 8}`;
}

/** The header of an NPY file; the values are not checked here. */
export function parseNpyHeader(bytes: Uint8Array): NpyHeaderResult {
  if (bytes.length < 10) return { ok: false, reason: `truncated: expected at least 10 bytes (the NPY magic, version and header length), got ${bytes.length}` };
  if (!NPY_MAGIC.every((b, k) => bytes[k] === b)) {
    return { ok: false, reason: `wrong magic number: expected the NPY magic ${hexBytes(NPY_MAGIC)} (\\x93NUMPY), got ${hexBytes(bytes.subarray(0, 6))}${zipHint(bytes)}` };
  }
  const version = `${bytes[6]}.${bytes[7]}`;
  if (!SUPPORTED_VERSIONS.includes(version)) return { ok: false, reason: `unsupported NPY format version ${version} (supported: ${SUPPORTED_VERSIONS.join(', ')})` };
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const wide = bytes[6] >= 2;
  if (wide && bytes.length < 12) return { ok: false, reason: `truncated: expected at least 12 bytes (NPY ${version} preamble), got ${bytes.length}` };
  const start = wide ? 12 : 10;
  const length = wide ? view.getUint32(8, true) : view.getUint16(8, true);
  if (bytes.length < start + length) return { ok: false, reason: `truncated: expected at least ${start + length} bytes of NPY header, got ${bytes.length}` };
  const text = Buffer.from(bytes.buffer, bytes.byteOffset + start, length).toString(bytes[6] >= 3 ? 'utf8' : 'latin1');
  const dict = parseHeaderDict(text);
  if (!dict.ok) return dict;
  return { ok: true, header: { version, ...dict.fields, dataOffset: start + length } };
}

type HeaderFields = Omit<NpyHeader, 'version' | 'dataOffset'>;

function parseHeaderDict(text: string): { ok: true; fields: HeaderFields } | { ok: false; reason: string } {
  const shown = JSON.stringify(text.trim().slice(0, 200));
  if (/['"]descr['"]\s*:\s*\[/.test(text)) return { ok: false, reason: `structured dtypes are not supported (header ${shown})` };
  const descr = /['"]descr['"]\s*:\s*(['"])(.*?)\1/.exec(text);
  const fortran = /['"]fortran_order['"]\s*:\s*(True|False)\b/.exec(text);
  const shape = /['"]shape['"]\s*:\s*\(([^)]*)\)/.exec(text);
  if (!descr || !fortran || !shape) {
    const missing = [descr ? null : 'descr', fortran ? null : 'fortran_order', shape ? null : 'shape'].filter((k) => k !== null);
    return { ok: false, reason: `unreadable NPY header: no ${missing.map((k) => `'${k}'`).join(', ')} (header ${shown})` };
  }
  const dims = shape[1].split(',').map((d) => d.trim()).filter((d) => d !== '');
  if (!dims.every((d) => /^\d+L?$/.test(d))) return { ok: false, reason: `unreadable NPY header: shape (${shape[1]}) (header ${shown})` };
  return { ok: true, fields: { descr: descr[2], fortranOrder: fortran[1] === 'True', shape: dims.map((d) => parseInt(d, 10)) } };
}

function hexBytes(bytes: Uint8Array): string {
  return Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join(' ');
}

function zipHint(bytes: Uint8Array): string {
  return bytes[0] === 0x50 && bytes[1] === 0x4b ? ' (a zip archive: .npz files are not read, save each array with np.save)' : '';
}

/** `(60000, 28, 28)`, as numpy prints a shape. */
export function formatNpyShape(shape: readonly (number | string)[]): string {
  return shape.length === 1 ? `(${shape[0]},)` : `(${shape.join(', ')})`;
}

/** Reads value i of `data` (the bytes after the header) as a number. */
export type NpyGetter = (index: number) => number;

export function npyGetter(dtype: NpyDtype, data: Uint8Array): NpyGetter {
  const view = new DataView(data.buffer, data.byteOffset, data.byteLength);
  const le = dtype.littleEndian;
  switch (`${dtype.kind}${dtype.bytes}`) {
    case 'u1':
      return (i) => data[i];
    case 'i1':
      return (i) => view.getInt8(i);
    case 'u2':
      return (i) => view.getUint16(2 * i, le);
    case 'i2':
      return (i) => view.getInt16(2 * i, le);
    case 'u4':
      return (i) => view.getUint32(4 * i, le);
    case 'i4':
      return (i) => view.getInt32(4 * i, le);
    case 'u8':
      return (i) => Number(view.getBigUint64(8 * i, le));
    case 'i8':
      return (i) => Number(view.getBigInt64(8 * i, le));
    case 'f4':
      return (i) => view.getFloat32(4 * i, le);
    default:
      return (i) => view.getFloat64(8 * i, le);
  }
}

/**
 * Copies values first..first+count-1 of `data` into out[outOffset..] (converted to float32), with
 * no intermediate arrays: a typed-array copy for uint8, int8 and aligned little-endian float32, a
 * DataView loop otherwise.
 */
export function readNpyValues(dtype: NpyDtype, data: Uint8Array, first: number, count: number, out: Float32Array, outOffset: number): void {
  if (dtype.kind === 'u' && dtype.bytes === 1) {
    out.set(data.subarray(first, first + count), outOffset);
    return;
  }
  if (dtype.kind === 'i' && dtype.bytes === 1) {
    out.set(new Int8Array(data.buffer, data.byteOffset + first, count), outOffset);
    return;
  }
  const byteOffset = data.byteOffset + first * dtype.bytes;
  if (dtype.kind === 'f' && dtype.bytes === 4 && dtype.littleEndian && byteOffset % 4 === 0) {
    out.set(new Float32Array(data.buffer, byteOffset, count), outOffset);
    return;
  }
  const get = npyGetter(dtype, data);
  for (let k = 0; k < count; k++) out[outOffset + k] = get(first + k);
}

export interface EncodeNpyOptions {
  /** Format version (default 1, or 2 when the header needs more than 65,535 bytes). */
  version?: 1 | 2 | 3;
  /** Written as the header's fortran_order; the values are written in the order given. */
  fortranOrder?: boolean;
}

/**
 * An NPY file of `values` (row-major) with the given shape and dtype (`|u1`, `<f4`, `<i8`, ...;
 * default `<f4`), as `np.save` writes it. Throws a RangeError for a shape that does not match the
 * values, an unknown dtype, or an integer dtype given a value it cannot hold.
 */
export function encodeNpy(values: ArrayLike<number>, shape: readonly number[], descr = '<f4', options: EncodeNpyOptions = {}): Buffer {
  const dtype = parseNpyDtype(descr);
  if (!dtype) throw new RangeError(`unsupported dtype '${descr}'`);
  shape.forEach((d, k) => {
    if (!Number.isInteger(d) || d < 0) throw new RangeError(`shape[${k}] must be a non-negative integer, got ${d}`);
  });
  const count = shape.reduce((a, b) => a * b, 1);
  if (values.length !== count) throw new RangeError(`shape ${formatNpyShape(shape)} needs ${count} values, got ${values.length}`);
  const header = npyHeaderBytes(descr, shape, options);
  const out = Buffer.alloc(header.length + count * dtype.bytes);
  header.copy(out, 0);
  const view = new DataView(out.buffer, out.byteOffset + header.length, count * dtype.bytes);
  const put = npySetter(dtype, view);
  for (let i = 0; i < count; i++) put(i, values[i]);
  return out;
}

function npyHeaderBytes(descr: string, shape: readonly number[], options: EncodeNpyOptions): Buffer {
  const dict = `{'descr': '${descr}', 'fortran_order': ${options.fortranOrder ? 'True' : 'False'}, 'shape': ${shape.length === 0 ? '()' : formatNpyShape(shape)}, }`;
  const unpadded = Buffer.byteLength(dict, 'utf8') + 1;
  const version = options.version ?? (unpadded + 10 > 0xffff ? 2 : 1);
  const preamble = version === 1 ? 10 : 12;
  const padding = (ALIGNMENT - ((preamble + unpadded) % ALIGNMENT)) % ALIGNMENT;
  const text = `${dict}${' '.repeat(padding)}\n`;
  const length = Buffer.byteLength(text, version === 3 ? 'utf8' : 'latin1');
  if (version === 1 && length > 0xffff) throw new RangeError(`an NPY 1.0 header holds at most 65,535 bytes, this one needs ${length}`);
  const out = Buffer.alloc(preamble + length);
  out.set(NPY_MAGIC, 0);
  out[6] = version;
  out[7] = 0;
  if (version === 1) out.writeUInt16LE(length, 8);
  else out.writeUInt32LE(length, 8);
  out.write(text, preamble, version === 3 ? 'utf8' : 'latin1');
  return out;
}

function npySetter(dtype: NpyDtype, view: DataView): (index: number, value: number) => void {
  const le = dtype.littleEndian;
  const integer = (value: number, min: number, max: number): number => {
    if (!(Number.isInteger(value) && value >= min && value <= max)) throw new RangeError(`${value} does not fit dtype '${dtype.descr}'`);
    return value;
  };
  switch (`${dtype.kind}${dtype.bytes}`) {
    case 'u1':
      return (i, v) => view.setUint8(i, integer(v, 0, 0xff));
    case 'i1':
      return (i, v) => view.setInt8(i, integer(v, -0x80, 0x7f));
    case 'u2':
      return (i, v) => view.setUint16(2 * i, integer(v, 0, 0xffff), le);
    case 'i2':
      return (i, v) => view.setInt16(2 * i, integer(v, -0x8000, 0x7fff), le);
    case 'u4':
      return (i, v) => view.setUint32(4 * i, integer(v, 0, 0xffffffff), le);
    case 'i4':
      return (i, v) => view.setInt32(4 * i, integer(v, -0x80000000, 0x7fffffff), le);
    case 'u8':
      return (i, v) => view.setBigUint64(8 * i, BigInt(integer(v, 0, Number.MAX_SAFE_INTEGER)), le);
    case 'i8':
      return (i, v) => view.setBigInt64(8 * i, BigInt(integer(v, Number.MIN_SAFE_INTEGER, Number.MAX_SAFE_INTEGER)), le);
    case 'f4':
      return (i, v) => view.setFloat32(4 * i, v, le);
    default:
      return (i, v) => view.setFloat64(8 * i, v, le);
  }
}
