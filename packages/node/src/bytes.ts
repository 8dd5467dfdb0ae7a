/** A plain Uint8Array view of `bytes` (Node hands out Buffers from files and LevelDB). */
export function plainBytes (bytes: Uint8Array): Uint8Array {
  return bytes.constructor === Uint8Array ? bytes : new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength)
}

/** Concatenates chunks into one plain Uint8Array. */
export function concatBytes (parts: readonly Uint8Array[], length: number): Uint8Array {
  if (parts.length === 1 && parts[0] != null) {
    return plainBytes(parts[0])
  }
  const out = new Uint8Array(length)
  let offset = 0
  for (const part of parts) {
    out.set(part, offset)
    offset += part.byteLength
  }
  return out
}
