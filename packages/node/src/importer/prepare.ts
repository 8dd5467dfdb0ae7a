import { encodeManifest, manifestCid, skypilotRowToManifest } from '@capdex/manifest'
import { createRecord, nameFromPublicKey, verifyRecord } from '@capdex/registry'
import { CustomProgressEvent } from 'progress-events'
import { DEFAULT_LEASE_MS } from '../constants.js'
import { InvalidOptionError } from '../errors.js'
import { IMPORT_PROGRESS_EVERY } from './constants.js'
import { deriveRowKey, skypilotRowIdentity } from './identity.js'
import { loadImportIndex, saveImportIndex } from './import-index.js'
import type { SkypilotCatalog } from './catalog.js'
import type { ImportIndexEntry } from './import-index.js'
import type { ImportedRow, PreparedImport, PrepareImportOptions, RejectedRow, SkypilotImporterComponents } from './types.js'
import type { Manifest } from '@capdex/manifest'
import type { AbortOptions, Ed25519PrivateKey, Logger } from '@libp2p/interface'
import type { CID } from 'multiformats/cid'

export interface PrepareContext {
  repo: SkypilotImporterComponents['repo']
  network: string
  log: Logger
  broker(options: AbortOptions): Promise<Ed25519PrivateKey>
}

/** A converted row waiting for its blocks, its index entry and its signature. */
interface Pending {
  catalog: SkypilotCatalog
  line: number
  identity: string
  key: Ed25519PrivateKey
  name: string
  sequence: bigint
  manifest: Manifest
  manifestCid: CID
  manifestBytes: Uint8Array
  warnings: string[]
}

/**
 * Converts, stores and signs every row. The order makes crashes harmless: manifest blocks are
 * durable before the index points at them, and a sequence number is reserved in the index before
 * any record is signed with it, so a crash never leads to two different records with one
 * sequence (an equivocation); at worst a sequence number is skipped.
 */
export async function prepareImport (ctx: PrepareContext, catalogs: SkypilotCatalog[], options: PrepareImportOptions = {}): Promise<PreparedImport> {
  const lifetimeMs = options.lifetimeMs ?? DEFAULT_LEASE_MS
  if (!Number.isSafeInteger(lifetimeMs) || lifetimeMs <= 0) {
    throw new InvalidOptionError(`lifetimeMs must be a positive integer, got ${lifetimeMs}`)
  }
  const now = options.now ?? Date.now()
  if (!Number.isSafeInteger(now) || now < 0) {
    throw new InvalidOptionError(`now must be a non-negative integer (ms), got ${now}`)
  }
  const signal = options.signal
  const aborts: AbortOptions = signal != null ? { signal } : {}
  const broker = await ctx.broker(aborts)
  const issuedAt = new Date(now)

  const indexes = new Map<string, Map<string, ImportIndexEntry>>()
  for (const cloud of new Set(catalogs.map((c) => c.cloud))) {
    indexes.set(cloud, await loadImportIndex(ctx.repo.datastore, cloud, aborts))
  }

  const total = catalogs.reduce((sum, c) => sum + c.rows.length, 0)
  const occurrences = new Map<string, number>()
  const pending: Pending[] = []
  const rejected: RejectedRow[] = []
  let done = 0
  for (const catalog of catalogs) {
    const index = indexes.get(catalog.cloud)
    for (const row of catalog.rows) {
      signal?.throwIfAborted()
      const base = skypilotRowIdentity(catalog.cloud, row)
      const occurrence = occurrences.get(base) ?? 0
      occurrences.set(base, occurrence + 1)
      const identity = occurrence === 0 ? base : skypilotRowIdentity(catalog.cloud, row, occurrence)
      const key = await deriveRowKey(broker, identity)
      const name = nameFromPublicKey(key.publicKey)
      let last = index?.get(identity)
      if (last != null && last.name !== name) {
        // the broker key was replaced: the old entry belongs to another provider
        ctx.log('import index entry of %s names %s, not %s: starting a new chain', identity, last.name, name)
        last = undefined
      }
      const conversion = skypilotRowToManifest(row, {
        provider: name,
        now: issuedAt,
        cloud: catalog.cloud,
        prev: last?.manifest ?? null,
        ...(options.country != null ? { country: options.country } : {})
      })
      done++
      if (done % IMPORT_PROGRESS_EVERY === 0) options.onProgress?.(new CustomProgressEvent('node:import:convert', { done, total }))
      if (!conversion.ok) {
        const rejection: RejectedRow = { source: catalog.source, cloud: catalog.cloud, line: row.line, reason: conversion.reason }
        rejected.push(rejection)
        options.onProgress?.(new CustomProgressEvent('node:import:rejected', rejection))
        continue
      }
      const manifestBytes = encodeManifest(conversion.manifest)
      pending.push({
        catalog,
        line: row.line,
        identity,
        key,
        name,
        sequence: (last?.seq ?? 0n) + 1n,
        manifest: conversion.manifest,
        manifestCid: manifestCid(manifestBytes),
        manifestBytes,
        warnings: conversion.warnings
      })
    }
  }
  options.onProgress?.(new CustomProgressEvent('node:import:convert', { done, total }))

  // 1. manifest blocks, durable before anything points at them
  for await (const _cid of ctx.repo.blockstore.putMany(pending.map((p) => ({ cid: p.manifestCid, bytes: p.manifestBytes })), aborts)) {
    // drain: putMany writes as it is iterated
  }
  await ctx.repo.syncBlocks(pending.map((p) => p.manifestCid), aborts)
  options.onProgress?.(new CustomProgressEvent('node:import:blocks', { count: pending.length }))

  // 2. reserve the sequence numbers
  await saveImportIndex(ctx.repo.datastore, pending.map((p) => ({
    cloud: p.catalog.cloud,
    entry: { row: p.identity, name: p.name, seq: p.sequence, manifest: p.manifestCid }
  })), aborts)

  // 3. sign
  const imported: ImportedRow[] = []
  for (const p of pending) {
    signal?.throwIfAborted()
    const bytes = await createRecord(p.key, p.manifestCid, p.sequence, { lifetimeMs, now, ...aborts })
    const record = await verifyRecord(p.name, bytes, { now, ...aborts })
    imported.push({
      source: p.catalog.source,
      cloud: p.catalog.cloud,
      line: p.line,
      identity: p.identity,
      name: p.name,
      sequence: p.sequence,
      manifest: p.manifest,
      manifestCid: p.manifestCid,
      manifestBytes: p.manifestBytes,
      record,
      warnings: p.warnings
    })
    if (imported.length % IMPORT_PROGRESS_EVERY === 0) options.onProgress?.(new CustomProgressEvent('node:import:sign', { done: imported.length, total: pending.length }))
  }
  options.onProgress?.(new CustomProgressEvent('node:import:sign', { done: imported.length, total: pending.length }))
  ctx.log('prepared %d of %d rows (%d rejected), lease until %s', imported.length, total, rejected.length, new Date(now + lifetimeMs).toISOString())

  return {
    broker: nameFromPublicKey(broker.publicKey),
    network: ctx.network,
    rows: total,
    imported,
    rejected,
    validity: new Date(now + lifetimeMs)
  }
}
