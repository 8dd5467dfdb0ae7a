import path from 'node:path'
import { InvalidCatalogError, NoPeersError, openRepo, pinStore, readSkypilotCatalog, skypilotImporter } from '@capdex/node'
import { providersTopic } from '@capdex/registry'
import { contextFor, withNetworkOptions } from '../context.js'
import { openNodeSession } from '../node-session.js'
import { formatTable, parseDuration, UsageError } from '../output.js'
import type { NetworkOptions } from '../context.js'
import type { Output } from '../output.js'
import type { FoldImportResult, PreparedImport, PublishImportResult, SkypilotCatalog, SkypilotImporter } from '@capdex/node'
import type { Command } from 'commander'

interface SkypilotOptions extends NetworkOptions {
  cloud?: string
  country?: string
  lease: string
  fold?: boolean
  rate: string
  timeout: string
}

const COUNTRY = /^[A-Za-z]{2}$/

function positiveNumber (text: string, what: string): number {
  const n = Number(text)
  if (!(n > 0) || !Number.isFinite(n)) throw new UsageError(`${what} must be a positive number, got '${text}'`)
  return n
}

/** Human and JSON lines for the rows that could not be normalized, in file order. */
function reportRejected (out: Output, prepared: PreparedImport): void {
  for (const r of prepared.rejected) {
    out.event({ event: 'rejected', file: r.source, cloud: r.cloud, line: r.line, reason: r.reason },
      () => `rejected ${path.basename(r.source)}:${r.line}  ${r.reason}`)
  }
}

function perCatalog (catalogs: SkypilotCatalog[], prepared: PreparedImport): Array<{ file: string, cloud: string, rows: number, imported: number, rejected: number }> {
  return catalogs.map((c) => ({
    file: c.source,
    cloud: c.cloud,
    rows: c.rows.length,
    imported: prepared.imported.filter((r) => r.source === c.source).length,
    rejected: prepared.rejected.filter((r) => r.source === c.source).length
  }))
}

function summarize (out: Output, catalogs: SkypilotCatalog[], prepared: PreparedImport, extra: { folded?: FoldImportResult, published?: PublishImportResult }): void {
  const warned = prepared.imported.filter((r) => r.warnings.length > 0)
  const files = perCatalog(catalogs, prepared)
  const { folded, published } = extra
  const summary = {
    event: 'imported',
    broker: prepared.broker,
    network: prepared.network,
    rows: prepared.rows,
    imported: prepared.imported.length,
    rejected: prepared.rejected.length,
    warned: warned.length,
    validity: prepared.validity,
    catalogs: files,
    ...(folded != null ? { snapshot: folded.cid, count: folded.snapshot.count, height: folded.snapshot.height, pinned: true } : {}),
    ...(published != null ? { published: published.published, unheard: published.unheard, recipients: published.recipients } : {})
  }
  out.event(summary, () => {
    const lines = [
      `imported ${summary.imported} of ${summary.rows} rows from ${files.length} catalog(s), ${summary.rejected} rejected`,
      formatTable(files.map((f) => ({ ...f, file: path.basename(f.file) })), ['file', 'cloud', 'rows', 'imported', 'rejected']),
      `broker     ${prepared.broker}`,
      `network    ${prepared.network}`,
      `lease      until ${prepared.validity.toISOString()}`
    ]
    const example = warned[0]
    if (example != null) {
      lines.push(`warnings   ${warned.length} row(s), e.g. ${path.basename(example.source)}:${example.line} ${example.warnings[0] ?? ''}`)
    }
    if (folded != null) {
      lines.push(`snapshot   ${folded.cid.toString()} (${folded.snapshot.count} providers, pinned)`)
      lines.push(`query it   capdex query --at ${folded.cid.toString()} --offline 'gpu=H100'`)
    }
    if (published != null) {
      lines.push(`announced  ${published.published} to ${published.recipients.length} peer(s)${published.unheard > 0 ? `, ${published.unheard} reached no peer` : ''}`)
    }
    return lines.join('\n')
  })
}

/** Prepares (normalize, store, sign) with progress, reports rejected rows, and fails when nothing is left. */
async function prepare (out: Output, importer: SkypilotImporter, catalogs: SkypilotCatalog[], opts: SkypilotOptions, lifetimeMs: number, signal: AbortSignal): Promise<PreparedImport> {
  const prepared = await importer.prepare(catalogs, {
    lifetimeMs,
    signal,
    ...(opts.country != null ? { country: opts.country.toUpperCase() } : {}),
    onProgress: (evt) => {
      if (evt.type === 'node:import:convert') out.progress('normalizing rows', evt.detail.done, evt.detail.total)
      if (evt.type === 'node:import:sign') out.progress('signing records', evt.detail.done, evt.detail.total)
    }
  })
  out.progressDone()
  reportRejected(out, prepared)
  if (prepared.imported.length === 0) {
    throw new InvalidCatalogError(prepared.rows === 0
      ? `No data rows in ${catalogs.map((c) => c.source).join(', ')}`
      : `None of the ${prepared.rows} rows could be imported (all rejected)`)
  }
  return prepared
}

export function registerImport (program: Command, signal: AbortSignal): void {
  const importCommand = program.command('import').description('list offers from other catalogs in the registry')

  withNetworkOptions(importCommand.command('skypilot'))
    .description('import SkyPilot vms.csv catalogs: every row becomes a provider with its own key (derived from the repo\'s broker key) and a normalized manifest; rows that cannot be normalized are reported')
    .argument('<catalogs...>', 'SkyPilot vms.csv files; the cloud is taken from the file name (lambda.csv, or lambda/vms.csv)')
    .option('--cloud <name>', 'the cloud of every file given, instead of the file names')
    .option('--country <cc>', 'ISO 3166 country for rows whose region names none (otherwise they are rejected)')
    .option('--lease <duration>', 'record validity: the liveness lease', '10m')
    .option('--fold', 'no network: fold all rows into one local snapshot, indexed by the broker, pin it and print its CID')
    .option('--rate <per-second>', 'announcements per second (receivers ignore more than their validation budget, 4/s by default)', '3')
    .option('--timeout <duration>', 'how long to wait for a subscribed peer', '10s')
    .action(async (files: string[], opts: SkypilotOptions, command: Command) => {
      const { out, repoPath } = contextFor(command, signal)
      const lifetimeMs = parseDuration(opts.lease)
      const timeoutMs = parseDuration(opts.timeout)
      const ratePerSecond = positiveNumber(opts.rate, '--rate')
      if (opts.country != null && !COUNTRY.test(opts.country)) {
        throw new UsageError(`--country must be an ISO 3166-1 alpha-2 code such as DE, got '${opts.country}'`)
      }
      if (opts.fold === true && ((opts.bootstrap?.length ?? 0) > 0 || (opts.listen?.length ?? 0) > 0)) {
        throw new UsageError('--fold works offline: drop --bootstrap and --listen, or drop --fold to announce the rows')
      }
      // every file is read and parsed before anything is written
      const catalogs: SkypilotCatalog[] = []
      for (const file of files) {
        catalogs.push(await readSkypilotCatalog(file, { signal, ...(opts.cloud != null ? { cloud: opts.cloud } : {}) }))
      }

      if (opts.fold === true) {
        const repo = await openRepo(repoPath, { signal })
        try {
          const importer = skypilotImporter({ repo }, opts.network != null ? { network: opts.network } : {})
          const prepared = await prepare(out, importer, catalogs, opts, lifetimeMs, signal)
          const folded = await importer.fold(prepared.imported, {
            signal,
            onProgress: (evt) => { if (evt.type.startsWith('registry:fold:')) out.progress('folding', prepared.imported.length) }
          })
          // pinned, so gc keeps it and `capdex query` finds it as the newest pin
          out.progress('pinning', folded.written)
          await pinStore({ repo }).add(folded.cid, { signal })
          out.progressDone()
          summarize(out, catalogs, prepared, { folded })
        } finally {
          await repo.close()
        }
        return
      }

      const session = await openNodeSession(repoPath, opts, signal)
      try {
        const importer = skypilotImporter({ repo: session.repo, node: session.node })
        out.info(`broker ${await importer.brokerName({ signal })} on ${importer.network}, peer ${session.node.peerId.toString()}`)
        // wait for a listener before reserving sequence numbers and signing thousands of records
        const topic = providersTopic(importer.network)
        const waiting = AbortSignal.any([signal, AbortSignal.timeout(timeoutMs)])
        try {
          await session.node.waitForTopicPeers(topic, { signal: waiting })
        } catch (err) {
          signal.throwIfAborted()
          throw new NoPeersError(`No peers subscribed to ${topic} within ${timeoutMs} ms: pass --bootstrap with an indexer's address, or use --fold (${(err as Error).message})`)
        }
        const prepared = await prepare(out, importer, catalogs, opts, lifetimeMs, signal)
        const published = await importer.publish(prepared.imported, {
          ratePerSecond,
          timeoutMs,
          signal,
          onProgress: (evt) => {
            if (evt.type === 'node:import:publish') out.progress('announcing', evt.detail.done, evt.detail.total, `to ${evt.detail.recipients} peer(s)`)
          }
        })
        out.progressDone()
        summarize(out, catalogs, prepared, { published })
      } finally {
        await session.close()
      }
    })
}
