import { createCapdexNode, openRepo } from '@capdex/node'
import type { NetworkOptions } from './context.js'
import type { CapdexNode, Repo } from '@capdex/node'

export interface NodeSession {
  repo: Repo
  node: CapdexNode
  close(): Promise<void>
}

/** Opens the repo and starts a node with the command's --listen/--bootstrap/--network options. */
export async function openNodeSession (repoPath: string | undefined, opts: NetworkOptions, signal: AbortSignal, extra: { validationBudget?: { ratePerSecond?: number, burst?: number } } = {}): Promise<NodeSession> {
  const repo = await openRepo(repoPath, { signal })
  try {
    const node = await createCapdexNode({ repo }, {
      ...(opts.network != null ? { network: opts.network } : {}),
      ...(opts.listen != null && opts.listen.length > 0 ? { listen: opts.listen } : {}),
      ...(opts.bootstrap != null ? { bootstrap: opts.bootstrap } : {}),
      ...(extra.validationBudget != null ? { validationBudget: extra.validationBudget } : {})
    })
    return {
      repo,
      node,
      async close () {
        try { await node.stop() } finally { await repo.close() }
      }
    }
  } catch (err) {
    await repo.close()
    throw err
  }
}

/** Resolves when the signal aborts (SIGINT/SIGTERM), for long-running commands. */
export async function untilAborted (signal: AbortSignal): Promise<void> {
  if (signal.aborted) return
  await new Promise<void>((resolve) => { signal.addEventListener('abort', () => { resolve() }, { once: true }) })
}
