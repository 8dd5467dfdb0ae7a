import { BATCH_MAX_LIMIT, DEFAULT_BATCH_MAX, httpGateway, INDEXER_VALIDATION_BUDGET, indexerService, parseHostPort } from '@capdex/node'
import { contextFor, withNetworkOptions } from '../context.js'
import { openNodeSession, untilAborted } from '../node-session.js'
import { parseDuration, parseNonNegativeInteger, parsePositiveInteger } from '../output.js'
import type { NetworkOptions } from '../context.js'
import type { HttpGateway, IndexerHeadEvent, IndexerService } from '@capdex/node'
import type { Command } from 'commander'

interface RunOptions extends NetworkOptions {
  http?: string
  batchMs: string
  batchMax?: string
  manifestTimeout: string
  verifyWorkers?: string
}

function headJson (h: IndexerHeadEvent): Record<string, unknown> {
  return { event: 'head', cid: h.cid, height: h.height, time: h.time, count: h.count, live: h.live, written: h.written, changed: h.changed, updates: h.updates, foldMs: Math.round(h.foldMs * 100) / 100, sequence: h.sequence }
}

export function registerIndexer (program: Command, signal: AbortSignal): void {
  const indexer = program.command('indexer').description('fold provider announcements into signed, content-addressed index snapshots')

  withNetworkOptions(indexer.command('run'))
    .description('run an indexer until SIGINT/SIGTERM: validate announcements, journal them, fold them into heads, publish each head under the indexer\'s IPNS name')
    .option('--http <host:port>', 'serve a trustless gateway (/ipfs, /ipns), /v1/head and /metrics here (port 0: any free port)')
    .option('--batch-ms <ms>', 'fold window: how long a batch collects updates', '250')
    .option('--batch-max <n>', `fold at once when a batch holds this many updates (larger batches fold faster per update under load; default: 2% of the index's providers, from ${DEFAULT_BATCH_MAX} to ${BATCH_MAX_LIMIT})`)
    .option('--manifest-timeout <duration>', 'bound on fetching a manifest that was not inlined', '10s')
    .option('--verify-workers <n>', 'worker threads that check announcement signatures while the main thread folds (0: none; default: up to 2, one per core)')
    .action(async (opts: RunOptions, command: Command) => {
      const { out, repoPath } = contextFor(command, signal)
      const batchMs = parsePositiveInteger(opts.batchMs, '--batch-ms')
      const batchMax = opts.batchMax != null ? parsePositiveInteger(opts.batchMax, '--batch-max') : undefined
      const manifestTimeoutMs = parseDuration(opts.manifestTimeout)
      const verifyWorkers = opts.verifyWorkers != null ? parseNonNegativeInteger(opts.verifyWorkers, '--verify-workers') : undefined
      const address = opts.http != null ? parseHostPort(opts.http) : undefined

      const session = await openNodeSession(repoPath, opts, signal, { validationBudget: INDEXER_VALIDATION_BUDGET })
      let service: IndexerService | undefined
      let gateway: HttpGateway | undefined
      try {
        service = indexerService({ node: session.node, repo: session.repo }, { batchMs, manifestTimeoutMs, ...(batchMax !== undefined ? { batchMax } : {}), ...(verifyWorkers !== undefined ? { verifyWorkers } : {}) })
        await service.start({
          signal,
          onProgress: (evt) => {
            if (evt.type === 'node:indexer:catchup' && evt.detail.total > 0) out.progress('catching up', evt.detail.done, evt.detail.total)
          }
        })
        out.progressDone()
        if (address != null) {
          gateway = httpGateway({ node: session.node, indexer: service }, address)
          await gateway.start()
        }
        service.events.addEventListener('head', ({ detail }) => {
          out.event(headJson(detail), () => `head ${detail.height}  ${detail.cid.toString()}  ${detail.count} providers (${detail.live} live)  ${detail.updates} update(s), ${detail.written} blocks in ${Math.round(detail.foldMs)} ms`)
        })
        const head = service.head()
        const ready = {
          event: 'ready',
          name: service.name,
          peerId: session.node.peerId.toString(),
          multiaddrs: session.node.multiaddrs().map(String),
          http: gateway?.url ?? null,
          network: service.network,
          head: head == null ? null : { cid: head.cid, height: head.snapshot.height }
        }
        out.event(ready, () => [
          `indexer ${ready.name} on ${ready.network}, peer ${ready.peerId}`,
          ...ready.multiaddrs.map((m) => `  ${m}`),
          `http: ${ready.http ?? 'off'}`,
          `head: ${head == null ? 'none yet' : `${head.cid.toString()} (height ${head.snapshot.height})`}`
        ].join('\n'))
        await untilAborted(signal)
        out.info('stopping')
      } finally {
        await gateway?.stop()
        await service?.stop()
        await session.close()
      }
    })
}
