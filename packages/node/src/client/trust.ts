import { Key } from 'interface-datastore'
import { CID } from 'multiformats/cid'
import { DEFAULT_INDEXER_KEY, EVIDENCE_PREFIX, TRUST_PREFIX } from './constants.js'
import type { AbortOptions } from '@libp2p/interface'
import type { Datastore } from 'interface-datastore'

/** The last head of an indexer that this client accepted. */
export interface TrustedHead {
  /** the indexer's IPNS name */
  indexer: string
  cid: CID
  height: number
  /** the snapshot's time, ms since the epoch */
  time: number
}

/** A head that was refused, kept with the signed record that claimed it. */
export interface Evidence {
  indexer: string
  cid: CID
  record: Uint8Array
}

export interface TrustStoreComponents {
  datastore: Pick<Datastore, 'get' | 'put' | 'has' | 'query'>
}

/**
 * Per indexer, the last head this client trusted (`/capdex/trust/<name>`), the default indexer
 * (`/capdex/client/indexer`) and refused heads kept as evidence (`/capdex/evidence/<name>/<cid>`).
 */
export interface TrustStore {
  get(indexer: string, options?: AbortOptions): Promise<TrustedHead | undefined>
  set(head: TrustedHead, options?: AbortOptions): Promise<void>
  list(options?: AbortOptions): AsyncGenerator<TrustedHead>
  /** the indexer used last, if any */
  defaultIndexer(options?: AbortOptions): Promise<string | undefined>
  setDefaultIndexer(indexer: string, options?: AbortOptions): Promise<void>
  addEvidence(evidence: Evidence, options?: AbortOptions): Promise<void>
  evidence(indexer: string, options?: AbortOptions): AsyncGenerator<Evidence>
}

const NAME = /^[A-Za-z0-9]{1,200}$/
const utf8 = new TextEncoder()
const text = new TextDecoder()

function trustKey (indexer: string): Key {
  return new Key(`${TRUST_PREFIX}/${indexer}`)
}

function parseTrusted (indexer: string, bytes: Uint8Array): TrustedHead | undefined {
  try {
    const value = JSON.parse(text.decode(bytes)) as { cid?: unknown, height?: unknown, time?: unknown }
    if (typeof value.cid !== 'string' || typeof value.height !== 'number' || !Number.isSafeInteger(value.height) || value.height < 0) {
      return undefined
    }
    return { indexer, cid: CID.parse(value.cid), height: value.height, time: typeof value.time === 'number' ? value.time : 0 }
  } catch {
    return undefined
  }
}

async function getOrUndefined (datastore: TrustStoreComponents['datastore'], key: Key, options: AbortOptions): Promise<Uint8Array | undefined> {
  try {
    return await datastore.get(key, options)
  } catch (err) {
    if ((err as Error).name === 'NotFoundError') return undefined
    throw err
  }
}

export function trustStore (components: TrustStoreComponents): TrustStore {
  const { datastore } = components
  return {
    async get (indexer, options = {}) {
      if (!NAME.test(indexer)) return undefined
      const bytes = await getOrUndefined(datastore, trustKey(indexer), options)
      return bytes == null ? undefined : parseTrusted(indexer, bytes)
    },
    async set (head, options = {}) {
      await datastore.put(trustKey(head.indexer), utf8.encode(JSON.stringify({ cid: head.cid.toString(), height: head.height, time: head.time })), options)
    },
    async * list (options = {}) {
      for await (const { key, value } of datastore.query({ prefix: `${TRUST_PREFIX}/` }, options)) {
        const head = parseTrusted(key.baseNamespace(), value)
        if (head != null) yield head
      }
    },
    async defaultIndexer (options = {}) {
      const bytes = await getOrUndefined(datastore, new Key(DEFAULT_INDEXER_KEY), options)
      const name = bytes == null ? undefined : text.decode(bytes)
      return name != null && NAME.test(name) ? name : undefined
    },
    async setDefaultIndexer (indexer, options = {}) {
      await datastore.put(new Key(DEFAULT_INDEXER_KEY), utf8.encode(indexer), options)
    },
    async addEvidence (evidence, options = {}) {
      await datastore.put(new Key(`${EVIDENCE_PREFIX}/${evidence.indexer}/${evidence.cid.toString()}`), evidence.record, options)
    },
    async * evidence (indexer, options = {}) {
      for await (const { key, value } of datastore.query({ prefix: `${EVIDENCE_PREFIX}/${indexer}/` }, options)) {
        yield { indexer, cid: CID.parse(key.baseNamespace()), record: value }
      }
    }
  }
}
