/**
 * A client that follows an indexer's heads as a separate peer would: it subscribes to
 * `capdex/<network>/index/1`, verifies each head's IPNS record (signature, and the indexer's name
 * when given), fetches the snapshot over bitswap from its peers, and diffs the providers tree
 * against the last head it processed to learn which provider records became visible. The nodes
 * the diff reads are fetched first with `fetchTreeDiff`, a tree level per round trip, so a head
 * costs a few round trips rather than one per changed node. Every block is re-hashed, and every
 * record it reports is signature-checked against the provider's name.
 *
 * As a module: `watchHeads(components, init)`. As a process (the freshness benchmark runs it so):
 * `tsx --conditions=capdex-source scripts/lib/head-watcher.ts --network N --bootstrap ADDR [--indexer k51…]`
 * prints `{ event: 'ready', peerId }`, then one `{ event: 'head', height, cid, count, time, heardAt,
 * openedAt, visibleAt, fetched, baseline, updates: [[name, sequence], …] }` line per processed head
 * (`time`: the snapshot's; times in ms since the epoch; `fetched`: blocks that came from the
 * network). The first head heard is the baseline: its updates are not listed.
 */
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { pathToFileURL } from 'node:url'
import { parseArgs } from 'node:util'
import { createCapdexNode, fetchTreeDiff, openRepo } from '@capdex/node'
import { prolly } from '@capdex/prolly'
import { decodeEntry, indexTopic, nameFromBytes, openSnapshot, verifyAnnouncement, verifyRecord } from '@capdex/registry'
import type { CapdexNode, GetBlockProgressEvents } from '@capdex/node'
import type { BlockStore } from '@capdex/prolly'
import type { Snapshot, VerifiedRecord } from '@capdex/registry'
import type { CID } from 'multiformats/cid'

export interface HeadWatcherComponents {
  node: Pick<CapdexNode, 'network' | 'subscribe' | 'getVerifiedBlock' | 'putBlock'>
}

export interface HeadWatcherInit {
  /** only heads signed by this indexer name are followed @default any */
  indexer?: string
  /** bound on fetching one block @default 10000 */
  blockTimeoutMs?: number
  /** a head was processed: `updates` are the provider records that became visible in it (empty for the baseline) */
  onHead(head: WatchedHead): void
  onError?(err: Error): void
}

export interface WatchedHead {
  cid: CID
  snapshot: Snapshot
  /** when its announcement arrived, ms since the epoch */
  heardAt: number
  /** when its snapshot block was opened, ms since the epoch */
  openedAt: number
  /** when its diff was done, ms since the epoch */
  visibleAt: number
  /** blocks that were not local and came from the network for this head */
  fetched: number
  /** provider name and record sequence of every entry added or replaced since the last processed head */
  updates: Array<[name: string, sequence: bigint]>
  baseline: boolean
}

export interface HeadWatcher {
  stop(): Promise<void>
}

/** Follows heads; processes one at a time, skipping to the newest heard (the diff covers the skipped ones). */
export function watchHeads (components: HeadWatcherComponents, init: HeadWatcherInit): HeadWatcher {
  const { node } = components
  const timeoutMs = init.blockTimeoutMs ?? 10_000
  let fetched = 0
  const onProgress = (evt: GetBlockProgressEvents): void => { if (evt.type === 'node:get-block:network') fetched++ }
  const blocks: BlockStore = {
    get: async (cid, options = {}) => node.getVerifiedBlock(cid, { timeoutMs, onProgress, ...(options.signal !== undefined ? { signal: options.signal } : {}) }),
    put: async (cid, bytes) => { await node.putBlock(bytes, cid.code) }
  }
  const tree = prolly({ blocks })
  let last: { cid: CID, snapshot: Snapshot } | undefined
  let newest: { record: VerifiedRecord, heardAt: number } | undefined
  let working: Promise<void> | undefined

  const drain = async (): Promise<void> => {
    while (newest !== undefined) {
      const { record, heardAt } = newest
      newest = undefined
      const cid = record.valueCid
      if (cid === undefined) continue
      try {
        fetched = 0
        const { snapshot } = await openSnapshot(cid, blocks)
        if (last !== undefined && snapshot.height <= last.snapshot.height) continue
        const openedAt = Date.now()
        const updates: Array<[string, bigint]> = []
        if (last !== undefined) {
          // the nodes the diff reads, a level per round trip; the diff then reads them locally
          await fetchTreeDiff({ blocks }, last.snapshot.providers, snapshot.providers)
          for await (const change of tree.diff(last.snapshot.providers, snapshot.providers)) {
            if (change.after === undefined) continue
            const name = nameFromBytes(change.key)
            const verified = await verifyRecord(name, decodeEntry(change.after).record, { allowExpired: true })
            updates.push([name, verified.sequence])
          }
        }
        init.onHead({ cid, snapshot, heardAt, openedAt, visibleAt: Date.now(), fetched, updates, baseline: last === undefined })
        last = { cid, snapshot }
      } catch (err) {
        init.onError?.(err as Error)
      }
    }
  }

  const unsubscribe = node.subscribe<VerifiedRecord>(indexTopic(node.network), {
    validate: async (msg) => {
      try {
        const { record } = await verifyAnnouncement(msg.data)
        if (init.indexer !== undefined && record.name !== init.indexer) return 'ignore'
        return record.valueCid === undefined ? 'reject' : { accept: record }
      } catch {
        return 'reject'
      }
    },
    onMessage: (_data, _from, msg) => {
      if (msg.value === undefined) return
      if (newest === undefined || msg.value.sequence > newest.record.sequence) newest = { record: msg.value, heardAt: Date.now() }
      working ??= drain().finally(() => { working = undefined })
    }
  })

  return {
    stop: async () => {
      unsubscribe()
      newest = undefined
      await working
    }
  }
}

// ---- as a process ------------------------------------------------------------------------

async function main (): Promise<void> {
  const { values } = parseArgs({
    options: { network: { type: 'string' }, bootstrap: { type: 'string', multiple: true, default: [] }, indexer: { type: 'string' } },
    strict: true
  })
  if (values.network === undefined || values.bootstrap.length === 0) throw new TypeError('usage: head-watcher --network N --bootstrap ADDR [--indexer k51…]')
  const dir = await mkdtemp(join(tmpdir(), 'capdex-head-watcher-'))
  const repo = await openRepo(join(dir, 'repo'), { create: true, init: { network: values.network } })
  const node = await createCapdexNode({ repo }, { network: values.network, bootstrap: values.bootstrap })
  const write = (value: Record<string, unknown>): void => {
    process.stdout.write(`${JSON.stringify(value, (_k, v: unknown) => typeof v === 'bigint' ? v.toString() : v)}\n`)
  }
  const watcher = watchHeads({ node }, {
    ...(values.indexer !== undefined ? { indexer: values.indexer } : {}),
    onHead: (h) => { write({ event: 'head', height: h.snapshot.height, cid: h.cid.toString(), count: h.snapshot.count, time: h.snapshot.time, heardAt: h.heardAt, openedAt: h.openedAt, visibleAt: h.visibleAt, fetched: h.fetched, baseline: h.baseline, updates: h.updates }) },
    onError: (err) => { write({ event: 'error', name: err.name, message: err.message }) }
  })
  write({ event: 'ready', peerId: node.peerId.toString() })
  await new Promise<void>((resolve) => {
    for (const signal of ['SIGINT', 'SIGTERM'] as const) process.once(signal, () => { resolve() })
  })
  await watcher.stop()
  await node.stop()
  await repo.close()
  await rm(dir, { recursive: true, force: true })
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  await main()
}
