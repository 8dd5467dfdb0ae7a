import { createOutput } from './output.js'
import type { Output } from './output.js'
import type { Command } from 'commander'

/** What every command handler gets: output, the repo path, and a signal aborted on SIGINT/SIGTERM. */
export interface CommandContext {
  out: Output
  /** the repo directory: --repo, else $CAPDEX_HOME, else ~/.capdex (resolved by @capdex/node) */
  repoPath: string | undefined
  signal: AbortSignal
}

export interface GlobalOptions {
  json?: boolean
  repo?: string
}

export interface NetworkOptions {
  listen?: string[]
  bootstrap?: string[]
  network?: string
}

/** Adds the options every networked command accepts. */
export function withNetworkOptions (command: Command): Command {
  return command
    .option('--listen <multiaddr>', 'address to listen on (repeatable)', collect, [])
    .option('--bootstrap <multiaddr>', 'peer to dial at start (repeatable)', collect, [])
    .option('--network <name>', 'registry network name (default: the repo config\'s)')
}

export function collect (value: string, previous: string[] = []): string[] {
  return [...previous, value]
}

export function contextFor (command: Command, signal: AbortSignal): CommandContext {
  const globals = command.optsWithGlobals<GlobalOptions>()
  return { out: createOutput(globals.json === true), repoPath: globals.repo, signal }
}
