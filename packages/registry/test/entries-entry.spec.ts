import { CID } from 'multiformats/cid'
import * as Digest from 'multiformats/hashes/digest'
import { describe, expect, it } from 'vitest'
import { decodeEntry, encodeEntry } from '../src/entries/index.js'

const digest = Digest.create(0x12, new Uint8Array(32).fill(9))
/** a manifest CID as records name them: CIDv1, dag-json, sha2-256 */
const DAG_JSON_MANIFEST = CID.createV1(0x0129, digest)

/** The entry's bytes with its tag-42 payload (0x00 ‖ CID bytes) replaced by `payload`. */
function withLinkPayload (entry: Uint8Array, cid: CID, payload: Uint8Array): Uint8Array {
  const old = Uint8Array.of(0x58, cid.bytes.length + 1, 0x00, ...cid.bytes)
  const at = Buffer.from(entry).indexOf(Buffer.from(old))
  expect(at).toBeGreaterThan(0)
  const head = payload.length < 24 ? Uint8Array.of(0x40 | payload.length) : Uint8Array.of(0x58, payload.length)
  return Uint8Array.from([...entry.subarray(0, at), ...head, ...payload, ...entry.subarray(at + old.length)])
}

describe('provider entry', () => {
  const entry = { record: Uint8Array.of(1, 2, 3), manifest: DAG_JSON_MANIFEST, seen: 7 }
  const bytes = encodeEntry(entry)

  it('decodes the manifest CID to one equal to the encoded one, for the usual shape and any other', () => {
    const decoded = decodeEntry(bytes)
    expect(decoded.manifest.equals(DAG_JSON_MANIFEST)).toBe(true)
    expect(decoded.manifest.toString()).toBe(DAG_JSON_MANIFEST.toString())
    expect(decoded.manifest.multihash.digest).toEqual(digest.digest)
    for (const other of [CID.createV1(0x71, digest), CID.createV1(0x55, digest), CID.createV0(digest)]) {
      const again = decodeEntry(encodeEntry({ ...entry, manifest: other }))
      expect(again.manifest.equals(other)).toBe(true)
      expect(again.manifest.version).toBe(other.version)
    }
  })

  it('rejects a manifest link that is not a CID in its shortest spelling', () => {
    const cid = DAG_JSON_MANIFEST.bytes
    const bad = [
      // version 1 as a two-byte varint
      Uint8Array.of(0x00, 0x81, 0x00, ...cid.subarray(1)),
      // no 0x00 multibase prefix
      Uint8Array.of(0x01, ...cid.subarray(1)),
      // a byte after the CID
      Uint8Array.of(0x00, ...cid, 0x00),
      // a digest one byte short
      Uint8Array.of(0x00, ...cid.subarray(0, cid.length - 1))
    ]
    for (const payload of bad) {
      expect(() => decodeEntry(withLinkPayload(bytes, DAG_JSON_MANIFEST, payload))).toThrow(expect.objectContaining({ name: 'InvalidEntryError' }))
    }
    // the splice itself is sound: the original payload decodes
    expect(decodeEntry(withLinkPayload(bytes, DAG_JSON_MANIFEST, Uint8Array.of(0x00, ...cid))).manifest.equals(DAG_JSON_MANIFEST)).toBe(true)
  })
})
