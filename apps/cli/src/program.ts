import { Command } from 'commander'
import { registerInit } from './commands/init.js'
import { registerProvider } from './commands/provider.js'
import { registerRecord } from './commands/record.js'

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
  return program
}
