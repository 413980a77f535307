// Byte-level pieces of the GGUF v3 format: header, metadata, tensor infos and the ggml tensor encodings.
// Layout reference: https://github.com/ggml-org/ggml/blob/master/docs/gguf.md (all integers little-endian).

/** Tensor encodings this writer can produce, named as ggml names them. */
export type GgmlTensorType = 'F32' | 'F16' | 'Q8_0' | 'Q4_0';

/** ggml's numeric id for each tensor encoding, as stored in a tensor info. */
export const ggmlTypeIds: Readonly<Record<GgmlTensorType, number>> = { F32: 0, F16: 1, Q4_0: 2, Q8_0: 8 };

/** `general.file_type` (llama_ftype) for a model whose 2-D tensors all use the given encoding. */
export const ggufFileTypes: Readonly<Record<GgmlTensorType, number>> = { F32: 0, F16: 1, Q4_0: 2, Q8_0: 7 };

/** Elements per quantization block: quantized rows must have a length divisible by it. */
export const quantBlockSize = 32;

const bytesPerBlock: Readonly<Record<GgmlTensorType, number>> = {
  F32: 4,
  F16: 2,
  // f16 scale + one signed byte per element
  Q8_0: 2 + quantBlockSize,
  // f16 scale + two 4-bit values per byte
  Q4_0: 2 + quantBlockSize / 2,
};

const elementsPerBlock: Readonly<Record<GgmlTensorType, number>> = {
  F32: 1,
  F16: 1,
  Q8_0: quantBlockSize,
  Q4_0: quantBlockSize,
};

/** Number of bytes `elementCount` elements take in the given encoding. */
export function encodedByteLength(type: GgmlTensorType, elementCount: number): number {
  const blockElements = elementsPerBlock[type];
  if (elementCount % blockElements !== 0) {
    throw new Error(`${type} needs a multiple of ${blockElements} elements, got ${elementCount}`);
  }
  return (elementCount / blockElements) * bytesPerBlock[type];
}

/** Rounds `offset` up to the next multiple of `alignment`. */
export function alignUp(offset: number, alignment: number): number {
  return Math.ceil(offset / alignment) * alignment;
}

/** One metadata value with the GGUF type it is stored as (JS numbers alone cannot say u32 vs f32). */
export type GgufMetadataValue =
  | { type: 'uint32'; value: number }
  | { type: 'int32'; value: number }
  | { type: 'float32'; value: number }
  | { type: 'bool'; value: boolean }
  | { type: 'string'; value: string }
  | { type: 'string-array'; value: readonly string[] }
  | { type: 'float32-array'; value: readonly number[] }
  | { type: 'int32-array'; value: readonly number[] };

/** Ordered metadata entries; order is kept so the output is byte-for-byte reproducible. */
export type GgufMetadata = ReadonlyArray<readonly [key: string, value: GgufMetadataValue]>;

/** What the header says about one tensor; `dimensions` are ggml's ne[], innermost (row length) first. */
export interface GgufTensorInfo {
  name: string;
  dimensions: readonly number[];
  type: GgmlTensorType;
}

const valueTypeIds = {
  int32: 5,
  uint32: 4,
  float32: 6,
  bool: 7,
  string: 8,
  array: 9,
} as const;

/** What a counted field of the header holds; tests overwrite these to make hostile headers. */
export type GgufFieldKind =
  | 'version'
  | 'tensor-count'
  | 'metadata-count'
  | 'key-length'
  | 'value-type'
  | 'string-length'
  | 'array-item-type'
  | 'array-length'
  | 'tensor-name-length'
  | 'dimension-count'
  | 'dimension'
  | 'tensor-type'
  | 'tensor-offset';

/** Where one counted field of an encoded header is: its byte offset and width. */
export interface GgufHeaderField {
  kind: GgufFieldKind;
  offset: number;
  bytes: 4 | 8;
}

const ggufMagic = 'GGUF';
const ggufVersion = 3;

/** Appends little-endian values to a growing list of buffers; the header is small enough to hold in memory. */
class ByteSink {
  private readonly parts: Buffer[] = [];
  private length = 0;
  /** The counted fields written so far, for tests that make hostile headers. */
  readonly fields: GgufHeaderField[] = [];

  /** Notes that the next field written is of `kind`. */
  mark(kind: GgufFieldKind, bytes: 4 | 8): void {
    this.fields.push({ kind, offset: this.length, bytes });
  }

  get byteLength(): number {
    return this.length;
  }

  bytes(buffer: Buffer): void {
    this.parts.push(buffer);
    this.length += buffer.length;
  }

  uint32(value: number): void {
    const buffer = Buffer.alloc(4);
    buffer.writeUInt32LE(value);
    this.bytes(buffer);
  }

  int32(value: number): void {
    const buffer = Buffer.alloc(4);
    buffer.writeInt32LE(value);
    this.bytes(buffer);
  }

  uint64(value: number): void {
    const buffer = Buffer.alloc(8);
    buffer.writeBigUInt64LE(BigInt(value));
    this.bytes(buffer);
  }

  float32(value: number): void {
    const buffer = Buffer.alloc(4);
    buffer.writeFloatLE(value);
    this.bytes(buffer);
  }

  string(value: string, kind: GgufFieldKind = 'string-length'): void {
    const encoded = Buffer.from(value, 'utf8');
    this.mark(kind, 8);
    this.uint64(encoded.length);
    this.bytes(encoded);
  }

  zeros(count: number): void {
    if (count > 0) this.bytes(Buffer.alloc(count));
  }

  toBuffer(): Buffer {
    return Buffer.concat(this.parts, this.length);
  }
}

function writeMetadataValue(sink: ByteSink, value: GgufMetadataValue): void {
  sink.mark('value-type', 4);
  switch (value.type) {
    case 'uint32':
      sink.uint32(valueTypeIds.uint32);
      sink.uint32(value.value);
      return;
    case 'int32':
      sink.uint32(valueTypeIds.int32);
      sink.int32(value.value);
      return;
    case 'float32':
      sink.uint32(valueTypeIds.float32);
      sink.float32(value.value);
      return;
    case 'bool':
      sink.uint32(valueTypeIds.bool);
      sink.bytes(Buffer.from([value.value ? 1 : 0]));
      return;
    case 'string':
      sink.uint32(valueTypeIds.string);
      sink.string(value.value);
      return;
    case 'string-array':
      sink.uint32(valueTypeIds.array);
      sink.mark('array-item-type', 4);
      sink.uint32(valueTypeIds.string);
      sink.mark('array-length', 8);
      sink.uint64(value.value.length);
      for (const item of value.value) sink.string(item);
      return;
    case 'float32-array':
      sink.uint32(valueTypeIds.array);
      sink.mark('array-item-type', 4);
      sink.uint32(valueTypeIds.float32);
      sink.mark('array-length', 8);
      sink.uint64(value.value.length);
      for (const item of value.value) sink.float32(item);
      return;
    case 'int32-array':
      sink.uint32(valueTypeIds.array);
      sink.mark('array-item-type', 4);
      sink.uint32(valueTypeIds.int32);
      sink.mark('array-length', 8);
      sink.uint64(value.value.length);
      for (const item of value.value) sink.int32(item);
      return;
  }
}

/** The encoded header plus where each tensor's data goes, relative to the start of the file. */
export interface GgufHeaderLayout {
  /** Header, metadata, tensor infos and padding, ending exactly where tensor data starts. */
  header: Buffer;
  /** Absolute file offset of the tensor data section. */
  dataOffset: number;
  /** Per tensor (same order as given): byte length of its encoded data and its padded offset within the data section. */
  tensors: ReadonlyArray<{ byteLength: number; relativeOffset: number }>;
  /** Total file length once every tensor has been written and padded. */
  fileLength: number;
  /** Every counted field of the header, in file order. */
  fields: readonly GgufHeaderField[];
}

/** Encodes the GGUF v3 header for the given metadata and tensors; `alignment` must match `general.alignment`. */
export function encodeGgufHeader(
  metadata: GgufMetadata,
  tensorInfos: readonly GgufTensorInfo[],
  alignment: number,
): GgufHeaderLayout {
  const sink = new ByteSink();
  sink.bytes(Buffer.from(ggufMagic, 'ascii'));
  sink.mark('version', 4);
  sink.uint32(ggufVersion);
  sink.mark('tensor-count', 8);
  sink.uint64(tensorInfos.length);
  sink.mark('metadata-count', 8);
  sink.uint64(metadata.length);
  for (const [key, value] of metadata) {
    sink.string(key, 'key-length');
    writeMetadataValue(sink, value);
  }

  const tensors: Array<{ byteLength: number; relativeOffset: number }> = [];
  let relativeOffset = 0;
  for (const info of tensorInfos) {
    const elementCount = info.dimensions.reduce((product, dimension) => product * dimension, 1);
    const firstDimension = info.dimensions[0] ?? 0;
    if (info.type !== 'F32' && info.type !== 'F16' && firstDimension % quantBlockSize !== 0) {
      throw new Error(`${info.name}: rows of ${firstDimension} elements cannot be split into ${info.type} blocks`);
    }
    const byteLength = encodedByteLength(info.type, elementCount);
    sink.string(info.name, 'tensor-name-length');
    sink.mark('dimension-count', 4);
    sink.uint32(info.dimensions.length);
    for (const dimension of info.dimensions) {
      sink.mark('dimension', 8);
      sink.uint64(dimension);
    }
    sink.mark('tensor-type', 4);
    sink.uint32(ggmlTypeIds[info.type]);
    sink.mark('tensor-offset', 8);
    sink.uint64(relativeOffset);
    tensors.push({ byteLength, relativeOffset });
    relativeOffset = alignUp(relativeOffset + byteLength, alignment);
  }

  const dataOffset = alignUp(sink.byteLength, alignment);
  sink.zeros(dataOffset - sink.byteLength);
  return {
    header: sink.toBuffer(),
    dataOffset,
    tensors,
    fileLength: dataOffset + relativeOffset,
    fields: sink.fields,
  };
}

const conversionFloat = new Float32Array(1);
const conversionBits = new Uint32Array(conversionFloat.buffer);

/** IEEE half-precision bits of `value`, rounded to nearest-even like ggml's FP32→FP16 conversion. */
export function float32ToFloat16Bits(value: number): number {
  conversionFloat[0] = value;
  const bits = conversionBits[0] ?? 0;
  const sign = (bits >>> 16) & 0x8000;
  const exponent = (bits >>> 23) & 0xff;
  let mantissa = bits & 0x7fffff;

  if (exponent === 0xff) return sign | 0x7c00 | (mantissa === 0 ? 0 : 0x200);
  const halfExponent = exponent - 127 + 15;
  if (halfExponent >= 0x1f) return sign | 0x7c00;

  if (halfExponent <= 0) {
    if (halfExponent < -10) return sign;
    mantissa |= 0x800000;
    const shift = 14 - halfExponent;
    let half = mantissa >>> shift;
    const remainder = mantissa & ((1 << shift) - 1);
    const halfway = 1 << (shift - 1);
    if (remainder > halfway || (remainder === halfway && (half & 1) === 1)) half += 1;
    return sign | half;
  }

  // A carry out of the mantissa correctly bumps the exponent (and overflows to infinity at the top).
  let half = (halfExponent << 10) | (mantissa >>> 13);
  const remainder = mantissa & 0x1fff;
  if (remainder > 0x1000 || (remainder === 0x1000 && (half & 1) === 1)) half += 1;
  return sign | half;
}

/** C's roundf: halves go away from zero, unlike Math.round. */
function roundHalfAwayFromZero(value: number): number {
  return value < 0 ? -Math.round(-value) : Math.round(value);
}

function encodeF32(values: Float32Array): Buffer {
  const buffer = Buffer.alloc(values.length * 4);
  for (let index = 0; index < values.length; index++) buffer.writeFloatLE(values[index] ?? 0, index * 4);
  return buffer;
}

function encodeF16(values: Float32Array): Buffer {
  const buffer = Buffer.alloc(values.length * 2);
  for (let index = 0; index < values.length; index++) {
    buffer.writeUInt16LE(float32ToFloat16Bits(values[index] ?? 0), index * 2);
  }
  return buffer;
}

// Mirrors ggml's quantize_row_q8_0_ref: scale = max|x| / 127, q = roundf(x / scale).
function quantizeQ8_0(values: Float32Array): Buffer {
  const blockCount = values.length / quantBlockSize;
  const buffer = Buffer.alloc(blockCount * bytesPerBlock.Q8_0);
  for (let block = 0; block < blockCount; block++) {
    const start = block * quantBlockSize;
    let absoluteMaximum = 0;
    for (let index = 0; index < quantBlockSize; index++) {
      absoluteMaximum = Math.max(absoluteMaximum, Math.abs(values[start + index] ?? 0));
    }
    const scale = Math.fround(absoluteMaximum / 127);
    const inverseScale = scale === 0 ? 0 : Math.fround(1 / scale);
    const blockOffset = block * bytesPerBlock.Q8_0;
    buffer.writeUInt16LE(float32ToFloat16Bits(scale), blockOffset);
    for (let index = 0; index < quantBlockSize; index++) {
      const quantized = roundHalfAwayFromZero(Math.fround((values[start + index] ?? 0) * inverseScale));
      buffer.writeInt8(Math.max(-128, Math.min(127, quantized)), blockOffset + 2 + index);
    }
  }
  return buffer;
}

// (int8_t)(x + 8.5f) in float arithmetic, so values a hair below a .5 boundary round the way ggml's do.
function toNibble(scaledValue: number): number {
  return Math.min(15, Math.trunc(Math.fround(Math.fround(scaledValue) + 8.5)));
}

// Mirrors ggml's quantize_row_q4_0_ref: the signed extreme maps to -8, values are stored offset by 8;
// byte j holds element j in its low nibble and element j + 16 in its high nibble.
function quantizeQ4_0(values: Float32Array): Buffer {
  const blockCount = values.length / quantBlockSize;
  const halfBlock = quantBlockSize / 2;
  const buffer = Buffer.alloc(blockCount * bytesPerBlock.Q4_0);
  for (let block = 0; block < blockCount; block++) {
    const start = block * quantBlockSize;
    let absoluteMaximum = 0;
    let signedMaximum = 0;
    for (let index = 0; index < quantBlockSize; index++) {
      const value = values[start + index] ?? 0;
      if (absoluteMaximum < Math.abs(value)) {
        absoluteMaximum = Math.abs(value);
        signedMaximum = value;
      }
    }
    const scale = Math.fround(signedMaximum / -8);
    const inverseScale = scale === 0 ? 0 : Math.fround(1 / scale);
    const blockOffset = block * bytesPerBlock.Q4_0;
    buffer.writeUInt16LE(float32ToFloat16Bits(scale), blockOffset);
    for (let index = 0; index < halfBlock; index++) {
      const low = toNibble((values[start + index] ?? 0) * inverseScale);
      const high = toNibble((values[start + halfBlock + index] ?? 0) * inverseScale);
      buffer.writeUInt8(low | (high << 4), blockOffset + 2 + index);
    }
  }
  return buffer;
}

/** Encodes a run of values (a whole number of blocks) in the given tensor encoding. */
export function encodeTensorData(type: GgmlTensorType, values: Float32Array): Buffer {
  encodedByteLength(type, values.length);
  switch (type) {
    case 'F32':
      return encodeF32(values);
    case 'F16':
      return encodeF16(values);
    case 'Q8_0':
      return quantizeQ8_0(values);
    case 'Q4_0':
      return quantizeQ4_0(values);
  }
}
