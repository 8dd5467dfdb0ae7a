import { initRepo, openRepo } from '@capdex/node'
import { nameFromPublicKey } from '@capdex/registry'
import { contextFor } from '../context.js'
import type { Command } from 'commander'

/** `capdex init`: creates the repo directory (config, keychain, blockstore, datastore) and the provider key. */
export function registerInit (program: Command, signal: AbortSignal): void {
  program.command('init')
    .description('create a capdex repo ($CAPDEX_HOME or ~/.capdex) with a peer key and a provider key')
    .option('--network <name>', 'registry network name', 'main')
    .action(async (opts: { network: string }, command: Command) => {
      const { out, repoPath } = contextFor(command, signal)
      await initRepo(repoPath, { network: opts.network })
      const repo = await openRepo(repoPath, { signal })
      try {
        const providerKey = await repo.getOrCreateKey(repo.config.keys.provider, { signal })
        const result = { repo: repo.path, network: repo.config.network, provider: nameFromPublicKey(providerKey.publicKey) }
        out.result(result, () => `initialized capdex repo at ${result.repo}\nnetwork:  ${result.network}\nprovider: ${result.provider}`)
      } finally {
        await repo.close()
      }
    })
}
