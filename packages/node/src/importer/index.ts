/**
 * The SkyPilot catalog importer: a broker lists cloud capacity in the registry. Every row of a
 * SkyPilot `vms.csv` catalog becomes a provider with a normalized manifest and its own Ed25519
 * key; rows that cannot be normalized are reported with their line and reason.
 *
 * Keys: one broker seed key lives in the repo's keychain (`skypilot-broker`). A row's key is
 * derived from it and the row's stable identity (cloud, InstanceType, Region, AvailabilityZone,
 * and an index among exact duplicates) with HKDF-SHA256 (`deriveRowKey`), so thousands of rows
 * cost no keychain writes, a re-import keeps every row's name, and every key can be recovered
 * from the repo. The import index in the datastore (`/capdex/import/<cloud>/<row id>`) keeps each
 * row's last sequence number and manifest, for seq+1 and `prev` links.
 *
 * @example
 *
 * ```ts
 * import { openRepo, readSkypilotCatalog, skypilotImporter } from '@capdex/node'
 *
 * const repo = await openRepo()
 * const importer = skypilotImporter({ repo })
 * const prepared = await importer.prepare([await readSkypilotCatalog('lambda.csv')], { lifetimeMs: 600_000 })
 * for (const r of prepared.rejected) console.log(`${r.source}:${r.line} ${r.reason}`)
 * const { cid } = await importer.fold(prepared.imported)
 * ```
 */

import { nameFromPublicKey, providersTopic } from '@capdex/registry'
import { defaultLogger } from '@libp2p/logger'
import { BROKER_KEY_NAME } from './constants.js'
import { foldImport } from './fold.js'
import { deriveRowKey } from './identity.js'
import { prepareImport } from './prepare.js'
import { publishImport } from './publish.js'
import type { SkypilotCatalog } from './catalog.js'
import type {
  FoldImportOptions, FoldImportResult, ImportedRow, PreparedImport, PrepareImportOptions, PublishImportOptions,
  PublishImportResult, SkypilotImporter, SkypilotImporterComponents, SkypilotImporterInit
} from './types.js'
import type { AbortOptions, Ed25519PrivateKey, Logger } from '@libp2p/interface'

export { readSkypilotCatalog, cloudFromPath } from './catalog.js'
export type { SkypilotCatalog, ReadSkypilotCatalogOptions } from './catalog.js'
export { skypilotRowIdentity, deriveRowKey } from './identity.js'
export * from './errors.js'
export * from './constants.js'
export type * from './types.js'

class DefaultSkypilotImporter implements SkypilotImporter {
  readonly network: string
  private readonly repo: SkypilotImporterComponents['repo']
  private readonly node: SkypilotImporterComponents['node']
  private readonly log: Logger
  private readonly brokerKeyName: string

  constructor (components: SkypilotImporterComponents, init: SkypilotImporterInit) {
    this.repo = components.repo
    this.node = components.node
    this.log = (components.logger ?? defaultLogger()).forComponent('capdex:importer')
    this.brokerKeyName = init.brokerKeyName ?? BROKER_KEY_NAME
    this.network = init.network ?? components.node?.network ?? components.repo.config.network
    // fail at construction on a bad network name
    providersTopic(this.network)
  }

  private async broker (options: AbortOptions): Promise<Ed25519PrivateKey> {
    return this.repo.getOrCreateKey(this.brokerKeyName, options)
  }

  async brokerName (options: AbortOptions = {}): Promise<string> {
    return nameFromPublicKey((await this.broker(options)).publicKey)
  }

  async rowKey (identity: string, options: AbortOptions = {}): Promise<Ed25519PrivateKey> {
    return deriveRowKey(await this.broker(options), identity)
  }

  private context (): { repo: SkypilotImporterComponents['repo'], network: string, log: Logger, broker: (options: AbortOptions) => Promise<Ed25519PrivateKey> } {
    return { repo: this.repo, network: this.network, log: this.log, broker: async (options) => this.broker(options) }
  }

  async prepare (catalogs: SkypilotCatalog[], options: PrepareImportOptions = {}): Promise<PreparedImport> {
    return prepareImport(this.context(), catalogs, options)
  }

  async publish (rows: ImportedRow[], options: PublishImportOptions = {}): Promise<PublishImportResult> {
    return publishImport({ node: this.node, network: this.network, log: this.log }, rows, options)
  }

  async fold (rows: ImportedRow[], options: FoldImportOptions = {}): Promise<FoldImportResult> {
    return foldImport(this.context(), rows, options)
  }
}

/** A SkyPilot catalog importer over a repo (and a node, to publish). */
export function skypilotImporter (components: SkypilotImporterComponents, init: SkypilotImporterInit = {}): SkypilotImporter {
  return new DefaultSkypilotImporter(components, init)
}
