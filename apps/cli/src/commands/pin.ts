import { bitswapBlockSource, gatewayClient, openRepo, pinStore } from '@capdex/node'
import { CID } from 'multiformats/cid'
import { contextFor } from '../context.js'
import { formatTable, parseDuration, parsePositiveInteger, UsageError } from '../output.js'
import { describeHead, resolveLatest, withRepoOrNode, withResolveOptions } from './index-cmd.js'
import type { ResolveOptions } from './index-cmd.js'
import type { Output } from '../output.js'
import type { BlockSource, CapdexNode, Pin, PinProgressEvents, Repo } from '@capdex/node'
import type { Command } from 'commander'

/** `1.5 MiB`-style sizes for people. */
export function formatBytes (n: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB']
  let value = n
  let unit = 0
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024
    unit++
  }
  return `${unit === 0 ? value : value.toFixed(1)} ${units[unit]}`
}

/** A CID argument; a usage error names the bad text. */
export function parseCid (text: string): CID {
  try {
    return CID.parse(text.trim())
  } catch {
    throw new UsageError(`'${text}' is not a CID`)
  }
}

export function pinJson (pin: Pin, extra: Record<string, unknown> = {}): Record<string, unknown> {
  return { cid: pin.cid, kind: pin.kind, history: pin.history, blocks: pin.blocks, bytes: pin.bytes, time: new Date(pin.time), ...extra }
}

/** JSON progress lines every this many blocks (people get a live line on a TTY). */
const JSON_PROGRESS_EVERY = 256

function pinProgress (out: Output): (event: PinProgressEvents) => void {
  return (event) => {
    if (event.type === 'node:pin:block') {
      const { blocks, bytes, fetched } = event.detail
      out.progress('pinning', blocks, undefined, `blocks, ${formatBytes(bytes)}, ${fetched} fetched`)
      if (out.json && blocks % JSON_PROGRESS_EVERY === 0) out.event({ event: 'progress', blocks, bytes, fetched }, () => '')
    } else if (event.type === 'node:pin:prefetch') {
      out.progress('prefetching CAR', event.detail.blocks, undefined, `blocks, ${formatBytes(event.detail.bytes)}`)
    } else {
      out.info(`gateway CAR stopped early (${event.detail.message}); fetching the rest block by block`)
    }
  }
}

interface PinOptions extends ResolveOptions {
  history?: boolean
  concurrency?: string
}

async function pinWith (repo: Repo, target: string, opts: PinOptions, out: Output, signal: AbortSignal, node: CapdexNode | undefined): Promise<void> {
  const timeoutMs = parseDuration(opts.timeout)
  let cid: CID
  if (target === 'latest') {
    const head = await resolveLatest(repo, opts, out, signal, node)
    out.info(describeHead(head))
    cid = head.cid
  } else {
    cid = parseCid(target)
  }
  let source: BlockSource
  if (opts.gateway != null) {
    source = gatewayClient({ url: opts.gateway, timeoutMs })
  } else if (node != null) {
    source = bitswapBlockSource({ node }, { timeoutMs })
  } else {
    throw new UsageError('pin needs the network or --gateway')
  }
  const pin = await pinStore({ repo }).add(cid, {
    source,
    history: opts.history === true,
    signal,
    onProgress: pinProgress(out),
    ...(opts.concurrency != null ? { concurrency: parsePositiveInteger(opts.concurrency, '--concurrency') } : {})
  })
  out.progressDone()
  out.result(pinJson(pin, { event: 'pinned' }), () => `pinned ${pin.cid.toString()}: ${pin.blocks} blocks, ${formatBytes(pin.bytes)}, every block hash checked${pin.history ? ', with history' : ''}`)
}

export function registerPin (program: Command, signal: AbortSignal): void {
  withResolveOptions(program.command('pin'))
    .description('fetch a snapshot DAG (trees and manifests) over bitswap or a gateway, check every block and pin it')
    .argument('<cid|latest>', 'a snapshot CID, or latest: the indexer\'s head (resolved and checked first)')
    .option('--history', 'also pin the older snapshots reached through prev')
    .option('--concurrency <n>', 'blocks fetched at once', '64')
    .action(async (target: string, opts: PinOptions, command: Command) => {
      const { out, repoPath } = contextFor(command, signal)
      if (target !== 'latest') parseCid(target)
      // with a gateway, no libp2p node at all
      await withRepoOrNode(repoPath, opts, opts.gateway != null, signal, async (repo, node) => { await pinWith(repo, target, opts, out, signal, node) })
    })

  const pins = program.command('pins').description('list and remove pins')
  pins.command('ls')
    .description('list pinned snapshots')
    .action(async (_opts: unknown, command: Command) => {
      const { out, repoPath } = contextFor(command, signal)
      const repo = await openRepo(repoPath, { signal })
      try {
        const all: Pin[] = []
        for await (const pin of pinStore({ repo }).ls({ signal })) all.push(pin)
        all.sort((a, b) => b.time - a.time)
        if (out.json) {
          for (const pin of all) out.event(pinJson(pin), () => '')
          return
        }
        if (all.length === 0) {
          out.info('no pins')
          return
        }
        out.result(null, () => formatTable(all.map((pin) => ({
          cid: pin.cid.toString(),
          history: pin.history ? 'yes' : 'no',
          blocks: pin.blocks,
          size: formatBytes(pin.bytes),
          pinned: new Date(pin.time).toISOString()
        })), ['cid', 'history', 'blocks', 'size', 'pinned']))
      } finally {
        await repo.close()
      }
    })

  pins.command('rm')
    .description('remove a pin (capdex gc then frees its blocks)')
    .argument('<cid>', 'the pinned snapshot CID')
    .action(async (text: string, _opts: unknown, command: Command) => {
      const { out, repoPath } = contextFor(command, signal)
      const cid = parseCid(text)
      const repo = await openRepo(repoPath, { signal })
      try {
        const pin = await pinStore({ repo }).rm(cid, { signal })
        out.result(pinJson(pin, { event: 'unpinned' }), () => `unpinned ${pin.cid.toString()}; run capdex gc to free its blocks`)
      } finally {
        await repo.close()
      }
    })

  program.command('gc')
    .description('delete every block not reachable from a pin, the indexer head, a stored record or a trusted head')
    .option('--dry-run', 'count what would be deleted, delete nothing')
    .action(async (opts: { dryRun?: boolean }, command: Command) => {
      const { out, repoPath } = contextFor(command, signal)
      const repo = await openRepo(repoPath, { signal })
      try {
        const result = await pinStore({ repo }).gc({
          dryRun: opts.dryRun === true,
          signal,
          onProgress: (event) => { if (event.type === 'node:gc:delete') out.progress('deleting', event.detail.removed) }
        })
        out.progressDone()
        out.result({ event: 'gc', dryRun: opts.dryRun === true, ...result }, () => `${opts.dryRun === true ? 'would remove' : 'removed'} ${result.removed} blocks; kept ${result.kept} reachable from ${result.roots} roots`)
      } finally {
        await repo.close()
      }
    })
}
