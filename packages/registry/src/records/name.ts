import { publicKeyFromRaw } from '@libp2p/crypto/keys'
import { base32 } from 'multiformats/bases/base32'
import { base36 } from 'multiformats/bases/base36'
import { base58btc } from 'multiformats/bases/base58'
import { CID } from 'multiformats/cid'
import * as Digest from 'multiformats/hashes/digest'
import { ED25519_PUBLIC_KEY_LENGTH, IDENTITY_HASH_CODE, KEY_TYPE_NAMES, LIBP2P_KEY_CODEC, NAME_BYTES_LENGTH, SHA2_256_HASH_CODE } from './constants.js'
import { InvalidNameError, UnsupportedKeyTypeError } from './errors.js'
import type { Ed25519PublicKey, PeerId, PublicKey } from '@libp2p/interface'

/** A name read and checked: an Ed25519 key inlined in an identity multihash. */
export interface ParsedName {
  /** Canonical form: base36 CIDv1, libp2p-key codec (`k51…`). */
  name: string
  /** The 38-byte identity multihash: 0x00 0x24 and the protobuf key. */
  bytes: Uint8Array
  /** The 32-byte raw Ed25519 key. */
  raw: Uint8Array
}

// The identity multihash header and the protobuf PublicKey header (Type = Ed25519, Data length 32).
const ED25519_MULTIHASH_PREFIX = Uint8Array.of(IDENTITY_HASH_CODE, 36, 0x08, 0x01, 0x12, ED25519_PUBLIC_KEY_LENGTH)
// A name's CID bytes before its multihash (CIDv1, libp2p-key), in hex.
const CID_V1_LIBP2P_KEY_HEX = Buffer.from([0x01, LIBP2P_KEY_CODEC]).toString('hex')
const NAME_DECODER = base36.decoder.or(base32.decoder).or(base58btc.decoder)

/** The identity multihash of a raw Ed25519 key. */
export function nameBytesFromRaw (raw: Uint8Array): Uint8Array {
  const bytes = new Uint8Array(NAME_BYTES_LENGTH)
  bytes.set(ED25519_MULTIHASH_PREFIX, 0)
  bytes.set(raw, ED25519_MULTIHASH_PREFIX.byteLength)
  return bytes
}

function nameStringFromBytes (bytes: Uint8Array): string {
  // The CID's bytes start with 0x01 (CIDv1), never with a zero byte, so base36 is exactly the number they spell in
  // base 36: BigInt does that natively, about 4 times faster than the generic base-x encoder, once per key parsed.
  const hex = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('hex')
  return `${base36.prefix}${BigInt(`0x${CID_V1_LIBP2P_KEY_HEX}${hex}`).toString(36)}`
}

/** Check a name's multihash and pull out the Ed25519 key. */
function parseMultihash (multihash: Uint8Array): ParsedName {
  let digest: Digest.Digest<number, number>
  try {
    digest = Digest.decode(multihash)
  } catch {
    throw new InvalidNameError('Name does not hold a valid multihash')
  }

  if (digest.code === SHA2_256_HASH_CODE) {
    throw new UnsupportedKeyTypeError('Name is a hash of its key (an RSA name); only Ed25519 names are supported')
  }
  if (digest.code !== IDENTITY_HASH_CODE) {
    throw new InvalidNameError(`Name multihash code 0x${digest.code.toString(16)} is neither identity nor sha2-256`)
  }

  // The identity digest is a protobuf PublicKey: field 1 (Type) first, as every encoder writes it.
  const key = digest.digest
  if (key[0] !== 0x08 || key[1] === undefined) {
    throw new InvalidNameError('Name does not hold a protobuf public key')
  }
  if (key[1] !== 1) {
    const type = KEY_TYPE_NAMES[key[1]]
    if (type === undefined) {
      throw new InvalidNameError(`Name holds unknown key type ${key[1]}`)
    }
    throw new UnsupportedKeyTypeError(`Name holds a ${type} key; only Ed25519 names are supported`)
  }
  if (multihash.byteLength !== NAME_BYTES_LENGTH || !ED25519_MULTIHASH_PREFIX.every((byte, i) => multihash[i] === byte)) {
    throw new InvalidNameError('Name does not hold a well-formed Ed25519 key')
  }

  return {
    name: nameStringFromBytes(multihash),
    bytes: multihash,
    raw: multihash.subarray(ED25519_MULTIHASH_PREFIX.byteLength)
  }
}

function multihashFromCid (cid: CID): Uint8Array {
  if (cid.version !== 1 || cid.code !== LIBP2P_KEY_CODEC) {
    throw new InvalidNameError('Name must be a CIDv1 with the libp2p-key codec')
  }
  return cid.multihash.bytes
}

function multihashFromString (name: string): Uint8Array {
  // Legacy peer ids are bare base58btc multihashes: 12D3Koo… (Ed25519), Qm… (RSA), 16Uiu2… (secp256k1).
  if (name.startsWith('1') || name.startsWith('Qm')) {
    try {
      return base58btc.baseDecode(name)
    } catch {
      throw new InvalidNameError('Name is not valid base58btc')
    }
  }
  let cid: CID
  try {
    cid = CID.decode(NAME_DECODER.decode(name))
  } catch {
    throw new InvalidNameError('Name is not a CID in base36, base32 or base58btc')
  }
  return multihashFromCid(cid)
}

/** Read any accepted form of a name; throws InvalidNameError or UnsupportedKeyTypeError. */
export function parseName (name: string | CID | PeerId): ParsedName {
  if (typeof name === 'string') {
    return parseMultihash(multihashFromString(name))
  }
  const cid = CID.asCID(name)
  if (cid !== null) {
    return parseMultihash(multihashFromCid(cid))
  }
  if (typeof name === 'object' && name !== null && 'toMultihash' in name && typeof name.toMultihash === 'function') {
    return parseMultihash(name.toMultihash().bytes)
  }
  throw new InvalidNameError('Name must be a string, a CID or a PeerId')
}

/** Parse a name from its 38-byte identity multihash (the providers-tree key). */
export function parseNameBytes (bytes: Uint8Array): ParsedName {
  return parseMultihash(bytes)
}

/** The IPNS name (`k51…`) of an Ed25519 public key. */
export function nameFromPublicKey (key: Ed25519PublicKey | PublicKey): string {
  if (key.type !== 'Ed25519') {
    throw new UnsupportedKeyTypeError(`A ${key.type} key has no Ed25519 name`)
  }
  return nameStringFromBytes(nameBytesFromRaw(key.raw))
}

/** The Ed25519 public key inlined in a name. */
export function publicKeyFromName (name: string | CID): Ed25519PublicKey {
  return ed25519PublicKeyFromRaw(parseName(name).raw)
}

/** The name's 38-byte identity multihash: the providers-tree key. */
export function nameToBytes (name: string): Uint8Array {
  return parseName(name).bytes.slice()
}

/** The canonical name (`k51…`) for a 38-byte identity multihash. */
export function nameFromBytes (bytes: Uint8Array): string {
  return parseMultihash(bytes).name
}

export function ed25519PublicKeyFromRaw (raw: Uint8Array): Ed25519PublicKey {
  const key = publicKeyFromRaw(raw)
  if (key.type !== 'Ed25519') {
    throw new UnsupportedKeyTypeError()
  }
  return key
}
