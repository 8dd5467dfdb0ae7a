import { InvalidRecordError } from './errors.js'

/**
 * The IpnsEntry protobuf, read by hand: one pass, no copies (the byte fields are
 * views into the input), and strict about what protons would let through, since
 * a record is the most-handled untrusted input in the system.
 */
export interface IpnsEntryFields {
  value?: Uint8Array
  signatureV1?: Uint8Array
  validityType?: bigint
  validity?: Uint8Array
  sequence?: bigint
  ttl?: bigint
  pubKey?: Uint8Array
  signatureV2?: Uint8Array
  data?: Uint8Array
}

const WIRE_VARINT = 0
const WIRE_FIXED64 = 1
const WIRE_BYTES = 2
const WIRE_FIXED32 = 5

/** Field number to name and wire type; fields outside this table are skipped. */
const FIELDS: ReadonlyArray<readonly [keyof IpnsEntryFields, number] | undefined> = [
  undefined,
  ['value', WIRE_BYTES],
  ['signatureV1', WIRE_BYTES],
  ['validityType', WIRE_VARINT],
  ['validity', WIRE_BYTES],
  ['sequence', WIRE_VARINT],
  ['ttl', WIRE_VARINT],
  ['pubKey', WIRE_BYTES],
  ['signatureV2', WIRE_BYTES],
  ['data', WIRE_BYTES]
]

class Reader {
  pos = 0
  private readonly buf: Uint8Array

  constructor (buf: Uint8Array) {
    this.buf = buf
  }

  /** A varint that must fit in 32 bits (tags and lengths). */
  uint32 (): number {
    let result = 0
    for (let shift = 0; shift < 35; shift += 7) {
      const byte = this.byte()
      result += (byte & 0x7f) * 2 ** shift
      if (byte < 0x80) {
        if (result > 0xffffffff) {
          throw new InvalidRecordError('Protobuf varint does not fit 32 bits')
        }
        return result
      }
    }
    throw new InvalidRecordError('Protobuf varint does not fit 32 bits')
  }

  /** A uint64 varint. */
  uint64 (): bigint {
    let low = 0
    let shift = 0
    // The first 49 bits accumulate exactly in a double; only longer varints pay for bigint.
    for (; shift < 49; shift += 7) {
      const byte = this.byte()
      low += (byte & 0x7f) * 2 ** shift
      if (byte < 0x80) {
        return BigInt(low)
      }
    }
    let result = BigInt(low)
    for (; shift < 70; shift += 7) {
      const byte = this.byte()
      result |= BigInt(byte & 0x7f) << BigInt(shift)
      if (byte < 0x80) {
        if (result > 0xffffffffffffffffn) {
          throw new InvalidRecordError('Protobuf varint does not fit 64 bits')
        }
        return result
      }
    }
    throw new InvalidRecordError('Protobuf varint is too long')
  }

  bytes (): Uint8Array {
    const length = this.uint32()
    const end = this.pos + length
    if (end > this.buf.byteLength) {
      throw new InvalidRecordError('Protobuf field runs past the end of the record')
    }
    const bytes = this.buf.subarray(this.pos, end)
    this.pos = end
    return bytes
  }

  skip (wireType: number): void {
    switch (wireType) {
      case WIRE_VARINT: this.uint64(); return
      case WIRE_FIXED64: this.advance(8); return
      case WIRE_BYTES: this.bytes(); return
      case WIRE_FIXED32: this.advance(4); return
      default: throw new InvalidRecordError(`Unsupported protobuf wire type ${wireType}`)
    }
  }

  private advance (count: number): void {
    if (this.pos + count > this.buf.byteLength) {
      throw new InvalidRecordError('Protobuf field runs past the end of the record')
    }
    this.pos += count
  }

  private byte (): number {
    const byte = this.buf[this.pos++]
    if (byte === undefined) {
      throw new InvalidRecordError('Record is truncated')
    }
    return byte
  }
}

/**
 * Decode an IpnsEntry. Unknown fields are skipped (protobuf compatibility), but a
 * known field repeated, or carried on the wrong wire type, is rejected: no encoder
 * emits either, and last-one-wins would let two parsers see different records.
 */
export function decodeIpnsEntry (buf: Uint8Array): IpnsEntryFields {
  const reader = new Reader(buf)
  const entry: IpnsEntryFields = {}

  while (reader.pos < buf.byteLength) {
    const tag = reader.uint32()
    const fieldNumber = tag >>> 3
    const wireType = tag & 7
    const field = FIELDS[fieldNumber]

    if (fieldNumber === 0) {
      throw new InvalidRecordError('Protobuf field number 0 is invalid')
    }

    if (field === undefined) {
      reader.skip(wireType)
      continue
    }

    const [key, expectedWireType] = field
    if (wireType !== expectedWireType) {
      throw new InvalidRecordError(`Protobuf field "${key}" has wire type ${wireType}, expected ${expectedWireType}`)
    }
    if (entry[key] !== undefined) {
      throw new InvalidRecordError(`Protobuf field "${key}" appears twice`)
    }

    if (wireType === WIRE_VARINT) {
      (entry as Record<string, bigint>)[key] = reader.uint64()
    } else {
      (entry as Record<string, Uint8Array>)[key] = reader.bytes()
    }
  }

  return entry
}

function varintLength (value: bigint | number): number {
  let length = 1
  let rest = BigInt(value) >> 7n
  while (rest > 0n) {
    length++
    rest >>= 7n
  }
  return length
}

function writeVarint (out: Uint8Array, pos: number, value: bigint | number): number {
  let rest = BigInt(value)
  while (rest >= 0x80n) {
    out[pos++] = Number(rest & 0x7fn) | 0x80
    rest >>= 7n
  }
  out[pos++] = Number(rest)
  return pos
}

/** Encode an IpnsEntry with fields in field-number order, as protons and Go do. */
export function encodeIpnsEntry (entry: IpnsEntryFields): Uint8Array {
  let size = 0
  for (let fieldNumber = 1; fieldNumber < FIELDS.length; fieldNumber++) {
    const [key] = FIELDS[fieldNumber] ?? []
    const value = key === undefined ? undefined : entry[key]
    if (value === undefined) {
      continue
    }
    size += 1 + (typeof value === 'bigint' ? varintLength(value) : varintLength(value.byteLength) + value.byteLength)
  }

  const out = new Uint8Array(size)
  let pos = 0
  for (let fieldNumber = 1; fieldNumber < FIELDS.length; fieldNumber++) {
    const [key, wireType] = FIELDS[fieldNumber] ?? []
    const value = key === undefined ? undefined : entry[key]
    if (value === undefined || wireType === undefined) {
      continue
    }
    out[pos++] = (fieldNumber << 3) | wireType
    if (typeof value === 'bigint') {
      pos = writeVarint(out, pos, value)
    } else {
      pos = writeVarint(out, pos, value.byteLength)
      out.set(value, pos)
      pos += value.byteLength
    }
  }
  return out
}
