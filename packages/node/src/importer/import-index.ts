import { Key } from 'interface-datastore'
import { CID } from 'multiformats/cid'
import { IMPORT_INDEX_PREFIX } from './constants.js'
import { CorruptImportIndexError } from './errors.js'
import { rowIdentityId } from './identity.js'
import type { AbortOptions } from '@libp2p/interface'
import type { Datastore } from 'interface-datastore'

/** What the importer remembers per row: `/capdex/import/<cloud>/<row id>` → this, as JSON. */
export interface ImportIndexEntry {
  /** the row identity (see `skypilotRowIdentity`) */
  row: string
  /** the row's provider name (`k51…`) */
  name: string
  /** the last sequence number reserved for the row */
  seq: bigint
  /** the row's last manifest: the next manifest's `prev` */
  manifest: CID
}

interface StoredEntry {
  row: string
  name: string
  seq: string
  manifest: string
}

const encoder = new TextEncoder()
const decoder = new TextDecoder()

export function importIndexKey (cloud: string, identity: string): Key {
  return new Key(`${IMPORT_INDEX_PREFIX}/${cloud}/${rowIdentityId(identity)}`)
}

function decodeEntry (key: string, bytes: Uint8Array): ImportIndexEntry {
  try {
    const value = JSON.parse(decoder.decode(bytes)) as Partial<StoredEntry>
    if (typeof value.row !== 'string' || typeof value.name !== 'string' || typeof value.seq !== 'string' || !/^\d+$/.test(value.seq) || typeof value.manifest !== 'string') {
      throw new Error('missing or mistyped fields')
    }
    return { row: value.row, name: value.name, seq: BigInt(value.seq), manifest: CID.parse(value.manifest) }
  } catch (err) {
    throw new CorruptImportIndexError(`Import index entry ${key} is corrupt: ${(err as Error).message}`)
  }
}

function encodeEntry (entry: ImportIndexEntry): Uint8Array {
  const stored: StoredEntry = { row: entry.row, name: entry.name, seq: entry.seq.toString(), manifest: entry.manifest.toString() }
  return encoder.encode(JSON.stringify(stored))
}

/** Every entry of one cloud, by row identity. */
export async function loadImportIndex (datastore: Pick<Datastore, 'query'>, cloud: string, options: AbortOptions = {}): Promise<Map<string, ImportIndexEntry>> {
  const entries = new Map<string, ImportIndexEntry>()
  for await (const { key, value } of datastore.query({ prefix: `${IMPORT_INDEX_PREFIX}/${cloud}/` }, options)) {
    const entry = decodeEntry(key.toString(), value)
    entries.set(entry.row, entry)
  }
  return entries
}

/** Writes entries in one datastore batch (all or none). */
export async function saveImportIndex (datastore: Pick<Datastore, 'batch'>, entries: Iterable<{ cloud: string, entry: ImportIndexEntry }>, options: AbortOptions = {}): Promise<void> {
  const batch = datastore.batch()
  for (const { cloud, entry } of entries) {
    batch.put(importIndexKey(cloud, entry.row), encodeEntry(entry))
  }
  await batch.commit(options)
}
