import { Command } from 'commander'
import { registerAudit } from './commands/audit.js'
import { registerImport } from './commands/import.js'
import { registerIndex } from './commands/index-cmd.js'
import { registerIndexer } from './commands/indexer.js'
import { registerInit } from './commands/init.js'
import { registerPin } from './commands/pin.js'
import { registerProvider } from './commands/provider.js'
import { registerQuery } from './commands/query.js'
import { registerRecord } from './commands/record.js'
import { registerSnapshot } from './commands/snapshot.js'

/** Builds the `capdex` command tree. Handlers receive a signal that SIGINT/SIGTERM abort. */
export function buildProgram (signal: AbortSignal): Command {
  const program = new Command('capdex')
    .description('capdex: a decentralized registry of compute resources on IPFS')
    .option('--json', 'machine-readable JSON output')
    .option('--repo <path>', 'repo directory (default: $CAPDEX_HOME or ~/.capdex)')
    .showHelpAfterError()
    .exitOverride()

  registerInit(program, signal)
  registerProvider(program, signal)
  registerRecord(program, signal)
  registerImport(program, signal)
  registerIndex(program, signal)
  registerIndexer(program, signal)
  registerPin(program, signal)
  registerQuery(program, signal)
  registerSnapshot(program, signal)
  registerAudit(program, signal)
  return program
}
