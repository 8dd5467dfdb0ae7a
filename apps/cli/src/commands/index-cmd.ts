import { acceptHead, gatewayClient, MissingIndexerError, openRepo, resolveHead, storingBlockSource, trustStore } from '@capdex/node'
import { contextFor, withNetworkOptions } from '../context.js'
import { openNodeSession } from '../node-session.js'
import { parseDuration, UsageError } from '../output.js'
import type { NetworkOptions } from '../context.js'
import type { Output } from '../output.js'
import type { CapdexNode, Repo, ResolvedHead, ResolveProgressEvents } from '@capdex/node'
import type { Command } from 'commander'

export interface ResolveOptions extends NetworkOptions {
  indexer?: string
  gateway?: string
  timeout: string
}

/** Adds the options that pick an indexer and how to reach it. */
export function withResolveOptions (command: Command): Command {
  return withNetworkOptions(command)
    .option('--indexer <k51…>', 'the indexer\'s IPNS name (remembered; default: the one used last)')
    .option('--gateway <url>', 'use the indexer\'s HTTP trustless gateway instead of libp2p')
    .option('--timeout <duration>', 'bound on learning the head and on each block fetch', '10s')
}

/**
 * Runs `work` on the repo alone when `offline` (no libp2p node is created: nothing listens,
 * nothing dials), else on the repo and a node started with the network options.
 */
export async function withRepoOrNode<T> (repoPath: string | undefined, opts: NetworkOptions, offline: boolean, signal: AbortSignal, work: (repo: Repo, node: CapdexNode | undefined) => Promise<T>): Promise<T> {
  if (offline) {
    const repo = await openRepo(repoPath, { signal })
    try {
      return await work(repo, undefined)
    } finally {
      await repo.close()
    }
  }
  const session = await openNodeSession(repoPath, opts, signal)
  try {
    return await work(session.repo, session.node)
  } finally {
    await session.close()
  }
}

/** `--indexer`, else the indexer used last. */
export async function chooseIndexer (repo: Pick<Repo, 'datastore'>, indexer: string | undefined, signal: AbortSignal): Promise<string> {
  if (indexer != null) return indexer
  const remembered = await trustStore({ datastore: repo.datastore }).defaultIndexer({ signal })
  if (remembered == null) {
    throw new MissingIndexerError('No indexer given and none used before: pass --indexer <k51…> (it is remembered)')
  }
  return remembered
}

export function headJson (head: ResolvedHead): Record<string, unknown> {
  return {
    event: 'head',
    indexer: head.indexer,
    cid: head.cid,
    height: head.snapshot.height,
    time: new Date(head.snapshot.time),
    network: head.snapshot.network,
    count: head.snapshot.count,
    sequence: head.sequence,
    validity: head.validity,
    source: head.source,
    from: head.from,
    proof: head.proof,
    previous: head.previous == null ? null : { cid: head.previous.cid, height: head.previous.height }
  }
}

export function describeHead (head: ResolvedHead): string {
  const previous = head.previous == null
    ? 'first use: trusted from now on'
    : head.proof === 'unchanged' ? 'unchanged since the last resolve' : `extends ${head.previous.cid.toString()} (height ${head.previous.height}, proven by ${head.proof})`
  return `indexer ${head.indexer}: head at height ${head.snapshot.height}, ${head.snapshot.count} providers, ${new Date(head.snapshot.time).toISOString()}\n  ${previous}\n  learned from ${head.source}${head.from != null ? ` ${head.from}` : ''}, record seq ${head.sequence}`
}

function resolveProgress (out: Output): (event: ResolveProgressEvents) => void {
  return (event) => {
    if (event.type === 'node:resolve:record') out.info(`heard record seq ${event.detail.sequence} (${event.detail.source}${event.detail.from != null ? ` from ${event.detail.from}` : ''})`)
  }
}

/**
 * Resolves the indexer's head on an open repo: through `node` (libp2p), else through the
 * `--gateway`. Remembers the indexer and the trusted head.
 */
export async function resolveLatest (repo: Repo, opts: ResolveOptions, out: Output, signal: AbortSignal, node: CapdexNode | undefined): Promise<ResolvedHead> {
  const indexer = await chooseIndexer(repo, opts.indexer, signal)
  const timeoutMs = parseDuration(opts.timeout)
  const onProgress = resolveProgress(out)
  let head: ResolvedHead
  if (node != null) {
    head = await resolveHead({ node, datastore: repo.datastore }, { indexer, timeoutMs, blockTimeoutMs: timeoutMs, signal, onProgress })
  } else if (opts.gateway != null) {
    const gateway = gatewayClient({ url: opts.gateway, timeoutMs })
    const record = await gateway.record(indexer, { signal })
    head = await acceptHead({ blocks: storingBlockSource({ blockstore: repo.blockstore }, gateway), datastore: repo.datastore }, record, {
      network: opts.network ?? repo.config.network,
      source: 'gateway',
      from: gateway.url,
      signal,
      onProgress
    })
  } else {
    throw new UsageError('Resolving needs the network or --gateway')
  }
  // remembered once it worked: the default of --indexer from now on
  await trustStore({ datastore: repo.datastore }).setDefaultIndexer(indexer, { signal })
  return head
}

export function registerIndex (program: Command, signal: AbortSignal): void {
  const index = program.command('index').description('follow an indexer\'s head')

  withResolveOptions(index.command('resolve'))
    .description('print the indexer\'s latest head CID, refusing a head that does not extend the one trusted last')
    .action(async (opts: ResolveOptions, command: Command) => {
      const { out, repoPath } = contextFor(command, signal)
      // with a gateway, no libp2p node at all
      const head = await withRepoOrNode(repoPath, opts, opts.gateway != null, signal, async (repo, node) => resolveLatest(repo, opts, out, signal, node))
      out.info(describeHead(head))
      out.result(headJson(head), () => head.cid.toString())
    })
}
