#!/usr/bin/env node
/* The `capdex` command: the only place in capdex that prints. */
import { CommanderError } from 'commander'
import { EXIT, exitCodeFor } from './exit-codes.js'
import { buildProgram } from './program.js'

const controller = new AbortController()
let interrupts = 0
for (const signalName of ['SIGINT', 'SIGTERM'] as const) {
  process.on(signalName, () => {
    interrupts++
    // the first signal asks for a clean shutdown; a second one forces it
    if (interrupts > 1) process.exit(EXIT.INTERRUPTED)
    controller.abort(new DOMException(`received ${signalName}`, 'AbortError'))
  })
}

const json = process.argv.includes('--json')
try {
  await buildProgram(controller.signal).parseAsync(process.argv)
  process.exitCode = EXIT.OK
} catch (err) {
  if (err instanceof CommanderError) {
    // commander already printed its message (help, version, or usage error)
    process.exitCode = err.exitCode === 0 ? EXIT.OK : EXIT.USAGE
  } else {
    const code = exitCodeFor(err)
    const e = err instanceof Error ? err : new Error(String(err))
    if (json) {
      process.stdout.write(`${JSON.stringify({ error: { name: e.name, message: e.message, exitCode: code } })}\n`)
    } else {
      process.stderr.write(`capdex: ${e.name}: ${e.message}\n`)
      if (code === EXIT.INTERNAL && e.stack != null) process.stderr.write(`${e.stack}\n`)
    }
    process.exitCode = code
  }
}
// Lingering sockets or timers must not keep a finished command alive.
setTimeout(() => process.exit(), 200).unref()
