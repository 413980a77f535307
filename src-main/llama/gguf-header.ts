import { open, type FileHandle } from 'node:fs/promises';
import { AppError } from '../../src-shared/errors.js';

// A GGUF header is input from disk, hence hostile until checked: it states counts and lengths that a reader
// believes and allocates or loops for. node-llama-cpp's reader believes them (an array of 2^40 items ended the
// process with "invalid size error"; 2^63 metadata pairs looped for minutes over zeros past the end of the file), so
// every header is walked here first, each count and length checked against the bytes left and against caps, before
// anything else reads it. Layout: https://github.com/ggml-org/ggml/blob/master/docs/gguf.md (little-endian).

/** Caps on what a header may state; far above any real model, far below what could exhaust memory. */
export const ggufHeaderLimits = {
  /** Metadata key/value pairs (real models: 20–60). */
  metadataCount: 65_536,
  /** Tensors (real models: a few hundred to a few tens of thousands for mixtures of experts). */
  tensorCount: 1_048_576,
  /** Bytes of one metadata key (the format itself says 65535). */
  keyBytes: 65_535,
  /** Bytes of one string value (chat templates and embedded tokenizer JSON stay well below). */
  stringBytes: 64 * 1024 * 1024,
  /** Items of one array (vocabularies: 32k–256k tokens, merges up to ~1M). */
  arrayLength: 16_777_216,
  /** Items of all arrays together: each becomes a JavaScript value when the header is read. */
  totalArrayItems: 33_554_432,
  /** Bytes of a tensor name (ggml's own limit is 64). */
  tensorNameBytes: 4096,
  /** Dimensions of a tensor (ggml's GGML_MAX_DIMS). */
  tensorDimensions: 4,
  /** ggml type ids are small numbers; anything above this is garbage. */
  ggmlTypeId: 1024,
} as const;

/** What the walk learned about a header that checked out. */
export interface GgufHeaderSummary {
  /** GGUF version (2 or 3). */
  version: number;
  tensorCount: number;
  metadataCount: number;
  /** Where the tensor data starts (the end of the header, aligned); bytes from the start of the file. */
  dataOffset: number;
}

/** GGUF value types, as the format numbers them. */
const valueTypes = {
  uint8: 0,
  int8: 1,
  uint16: 2,
  int16: 3,
  uint32: 4,
  int32: 5,
  float32: 6,
  bool: 7,
  string: 8,
  array: 9,
  uint64: 10,
  int64: 11,
  float64: 12,
} as const;

/** Bytes of each fixed-size value type. */
const fixedSizes: Readonly<Record<number, number>> = {
  [valueTypes.uint8]: 1,
  [valueTypes.int8]: 1,
  [valueTypes.uint16]: 2,
  [valueTypes.int16]: 2,
  [valueTypes.uint32]: 4,
  [valueTypes.int32]: 4,
  [valueTypes.float32]: 4,
  [valueTypes.bool]: 1,
  [valueTypes.uint64]: 8,
  [valueTypes.int64]: 8,
  [valueTypes.float64]: 8,
};

/** The smallest a metadata pair can be: an empty key (8), its type (4), a one-byte value. */
const minimumPairBytes = 8 + 4 + 1;
/** The smallest a tensor info can be: an empty name (8), no dimensions (4), its type (4) and offset (8). */
const minimumTensorInfoBytes = 8 + 4 + 4 + 8;
const defaultAlignment = 32;

/** Thrown inside the walk: where it went wrong and why; {@link checkGgufHeader} turns it into an AppError. */
class HeaderFault extends Error {
  constructor(
    readonly offset: number,
    readonly reason: string,
  ) {
    super(reason);
  }
}

function count(value: number): string {
  return value.toLocaleString('en');
}

/** Reads a file front to back through a window, so a header of any size costs a fixed amount of memory. */
class HeaderReader {
  private window = Buffer.alloc(0);
  /** File offset of `window[0]`. */
  private windowStart = 0;
  /** The next byte to read. */
  position = 0;

  constructor(
    private readonly handle: FileHandle,
    readonly size: number,
    private readonly windowBytes = 1024 * 1024,
  ) {}

  get left(): number {
    return this.size - this.position;
  }

  /** Makes `length` bytes from `position` available in the window; `what` names them if the file ends first. */
  private async need(length: number, what: string): Promise<number> {
    if (length > this.left) {
      throw new HeaderFault(
        this.position,
        `the file ends ${count(this.left)} bytes after this point, in the middle of ${what} (truncated: a ` +
          'download that did not finish?)',
      );
    }
    const start = this.position - this.windowStart;
    if (start + length <= this.window.length) return start;
    const bytes = Math.min(Math.max(length, this.windowBytes), this.size - this.position);
    const buffer = Buffer.alloc(bytes);
    const { bytesRead } = await this.handle.read(buffer, 0, bytes, this.position);
    if (bytesRead < length) {
      throw new HeaderFault(this.position, `the file could not be read past this point (it shrank while being read)`);
    }
    this.window = buffer.subarray(0, bytesRead);
    this.windowStart = this.position;
    return 0;
  }

  async uint32(what: string): Promise<number> {
    const at = await this.need(4, what);
    this.position += 4;
    return this.window.readUInt32LE(at);
  }

  /** A u64 as a number: exact up to 2^53, and any larger value as Infinity (bigger than every limit). */
  async uint64(what: string): Promise<number> {
    const at = await this.need(8, what);
    this.position += 8;
    const low = this.window.readUInt32LE(at);
    const high = this.window.readUInt32LE(at + 4);
    return high >= 2 ** 21 ? Number.POSITIVE_INFINITY : high * 2 ** 32 + low;
  }

  async bytes(length: number, what: string): Promise<Buffer> {
    const at = await this.need(length, what);
    this.position += length;
    return this.window.subarray(at, at + length);
  }

  /** Moves past `length` bytes, checked against the end of the file, without reading them. */
  skip(length: number, what: string): void {
    if (length > this.left) {
      throw new HeaderFault(
        this.position,
        `${what} needs ${count(length)} bytes, but only ${count(this.left)} are left in the file`,
      );
    }
    this.position += length;
  }
}

/** The walk itself; every fault is a {@link HeaderFault} at the offset of the field that lies. */
async function walkHeader(reader: HeaderReader): Promise<GgufHeaderSummary> {
  const magic = await reader.bytes(4, 'the GGUF magic');
  if (magic.toString('latin1') !== 'GGUF') throw new HeaderFault(0, 'it does not start with "GGUF"');
  const versionAt = reader.position;
  const version = await reader.uint32('the GGUF version');
  if (version === 1) throw new HeaderFault(versionAt, 'it is GGUF version 1, which llama.cpp no longer reads');
  if (version !== 2 && version !== 3) {
    throw new HeaderFault(
      versionAt,
      `its GGUF version is ${version}` +
        (version > 0xffff ? ' (a big-endian file? llama.cpp reads little-endian GGUF only)' : '') +
        '; llama.cpp reads versions 2 and 3',
    );
  }

  const tensorCountAt = reader.position;
  const tensorCount = await reader.uint64('the tensor count');
  const metadataCountAt = reader.position;
  const metadataCount = await reader.uint64('the metadata count');
  checkCount(reader, metadataCountAt, 'it', 'metadata entries', metadataCount, minimumPairBytes, 'metadataCount');
  checkCount(reader, tensorCountAt, 'it', 'tensors', tensorCount, minimumTensorInfoBytes, 'tensorCount');

  const keys = new Set<string>();
  let arrayItems = 0;
  let alignment = defaultAlignment;
  for (let index = 0; index < metadataCount; index += 1) {
    const keyAt = reader.position;
    const key = await readString(reader, ggufHeaderLimits.keyBytes, `the key of metadata entry ${index}`);
    if (key.split('.').includes('__proto__')) {
      throw new HeaderFault(keyAt, `metadata key ${JSON.stringify(key)} is not a key any model uses`);
    }
    if (keys.has(key)) throw new HeaderFault(keyAt, `metadata key ${JSON.stringify(key)} appears twice`);
    keys.add(key);
    const typeAt = reader.position;
    const type = await reader.uint32(`the value type of ${key}`);
    if (type === valueTypes.array) {
      const elementTypeAt = reader.position;
      const elementType = await reader.uint32(`the item type of ${key}`);
      if (elementType === valueTypes.array) {
        throw new HeaderFault(elementTypeAt, `metadata ${key} is an array of arrays, which GGUF readers do not accept`);
      }
      if (elementType !== valueTypes.string && fixedSizes[elementType] === undefined) {
        throw new HeaderFault(elementTypeAt, `metadata ${key} has items of unknown type ${elementType}`);
      }
      const lengthAt = reader.position;
      const length = await reader.uint64(`the length of ${key}`);
      const itemBytes = elementType === valueTypes.string ? 8 : fixedSizes[elementType]!;
      checkCount(reader, lengthAt, `metadata ${key}`, 'items', length, itemBytes, 'arrayLength');
      arrayItems += length;
      if (arrayItems > ggufHeaderLimits.totalArrayItems) {
        throw new HeaderFault(
          lengthAt,
          `its arrays hold more than ${count(ggufHeaderLimits.totalArrayItems)} items together, which clemplay ` +
            'does not read',
        );
      }
      if (elementType === valueTypes.string) {
        for (let item = 0; item < length; item += 1) {
          await skipString(reader, ggufHeaderLimits.stringBytes, `item ${item} of ${key}`);
        }
      } else {
        reader.skip(length * itemBytes, `the items of ${key}`);
      }
      continue;
    }
    if (type === valueTypes.string) {
      await skipString(reader, ggufHeaderLimits.stringBytes, `the value of ${key}`);
      continue;
    }
    const size = fixedSizes[type];
    if (size === undefined) throw new HeaderFault(typeAt, `metadata ${key} has unknown value type ${type}`);
    if (key === 'general.alignment') {
      if (type !== valueTypes.uint32) {
        throw new HeaderFault(typeAt, 'general.alignment must be a uint32, as the format says');
      }
      const valueAt = reader.position;
      alignment = await reader.uint32('general.alignment');
      if (alignment === 0 || (alignment & (alignment - 1)) !== 0) {
        throw new HeaderFault(valueAt, `general.alignment is ${alignment}, not a power of two`);
      }
      continue;
    }
    reader.skip(size, `the value of ${key}`);
  }

  for (let index = 0; index < tensorCount; index += 1) {
    const name = await readString(reader, ggufHeaderLimits.tensorNameBytes, `the name of tensor ${index}`);
    const label = `tensor ${JSON.stringify(name)}`;
    const dimensionsAt = reader.position;
    const dimensions = await reader.uint32(`the dimension count of ${label}`);
    if (dimensions > ggufHeaderLimits.tensorDimensions) {
      throw new HeaderFault(
        dimensionsAt,
        `${label} says it has ${count(dimensions)} dimensions; ggml tensors have at most ` +
          `${ggufHeaderLimits.tensorDimensions}`,
      );
    }
    let elements = 1;
    for (let dimension = 0; dimension < dimensions; dimension += 1) {
      const sizeAt = reader.position;
      const size = await reader.uint64(`dimension ${dimension} of ${label}`);
      elements *= size;
      if (!Number.isSafeInteger(elements)) {
        throw new HeaderFault(sizeAt, `${label} has more elements than any file could hold`);
      }
    }
    const typeAt = reader.position;
    const type = await reader.uint32(`the type of ${label}`);
    if (type > ggufHeaderLimits.ggmlTypeId) throw new HeaderFault(typeAt, `${label} has unknown type ${type}`);
    const offsetAt = reader.position;
    const offset = await reader.uint64(`the data offset of ${label}`);
    // Data past the end of the file is a cut download, which the size check after reading the header explains
    // better (how many bytes the tensors need); only an offset no file could have is a fault here.
    if (!Number.isSafeInteger(offset)) {
      throw new HeaderFault(offsetAt, `${label} says its data starts more than 2^53 bytes in`);
    }
  }
  const dataOffset = Math.ceil(reader.position / alignment) * alignment;
  return { version, tensorCount, metadataCount, dataOffset };
}

/**
 * Checks a count a header states: under its cap, and no more items than the bytes left in the file can hold at
 * `minimumBytes` each (else it is a lie, or the file was cut short).
 */
function checkCount(
  reader: HeaderReader,
  at: number,
  subject: string,
  things: string,
  stated: number,
  minimumBytes: number,
  limit: 'metadataCount' | 'tensorCount' | 'arrayLength',
): void {
  const cap = ggufHeaderLimits[limit];
  if (stated > cap) {
    throw new HeaderFault(
      at,
      `${subject} says it has ${describeHuge(stated)} ${things}; clemplay reads at most ${count(cap)}` +
        (limit === 'arrayLength' ? ' per array' : ''),
    );
  }
  if (stated * minimumBytes > reader.left) {
    throw new HeaderFault(
      at,
      `${subject} says it has ${count(stated)} ${things}, which take at least ${count(stated * minimumBytes)} bytes, ` +
        `but only ${count(reader.left)} are left in the file (truncated, or damaged)`,
    );
  }
}

function describeHuge(value: number): string {
  return Number.isFinite(value) ? count(value) : 'more than 2^53';
}

async function readString(reader: HeaderReader, limit: number, what: string): Promise<string> {
  const length = await checkedStringLength(reader, limit, what);
  return (await reader.bytes(length, what)).toString('utf8');
}

async function skipString(reader: HeaderReader, limit: number, what: string): Promise<void> {
  reader.skip(await checkedStringLength(reader, limit, what), what);
}

async function checkedStringLength(reader: HeaderReader, limit: number, what: string): Promise<number> {
  const lengthAt = reader.position;
  const length = await reader.uint64(`the length of ${what}`);
  if (length > limit || length > reader.left) {
    throw new HeaderFault(
      lengthAt,
      `${what} says it is ${describeHuge(length)} bytes long, but only ${count(reader.left)} bytes are left in the ` +
        `file${length > limit ? ` (and clemplay reads at most ${count(limit)})` : ''}`,
    );
  }
  return length;
}

/**
 * Walks the GGUF header of `path` and checks every count, length and type it states against the bytes left in the
 * file and against {@link ggufHeaderLimits}, reading it through a fixed-size window and never allocating what the
 * header claims. Throws `corrupt` naming the byte offset of the first field that cannot be true, so that no reader
 * that trusts the header (node-llama-cpp's, llama.cpp's) ever sees the file.
 */
export async function checkGgufHeader(path: string): Promise<GgufHeaderSummary> {
  const handle = await open(path, 'r');
  try {
    const size = (await handle.stat()).size;
    return await walkHeader(new HeaderReader(handle, size));
  } catch (error) {
    if (!(error instanceof HeaderFault)) throw error;
    throw new AppError(
      'corrupt',
      `${path} is corrupt at byte ${count(error.offset)}: ${error.reason} — it is damaged or not a real model; ` +
        'download it again. clemplay will not load it.',
      { path, offset: error.offset },
    );
  } finally {
    await handle.close();
  }
}
