import { readFile } from 'node:fs/promises'
import { verifyRecord } from '@capdex/registry'
import { contextFor } from '../context.js'
import { readStdin } from '../io.js'
import type { Command } from 'commander'

/** `capdex record verify <file|-> --name <k51…>`: checks raw IPNS record bytes under a name. */
export function registerRecord (program: Command, signal: AbortSignal): void {
  const record = program.command('record').description('inspect and verify IPNS records')
  record.command('verify')
    .description('verify raw IPNS record bytes (as served at /ipns/<name>?format=ipns-record) under a name')
    .argument('<file>', 'record file, or - for stdin')
    .requiredOption('--name <k51…>', 'the IPNS name (Ed25519 libp2p-key) the record must be valid for')
    .option('--allow-expired', 'report an expired record as valid-but-expired instead of failing')
    .action(async (file: string, opts: { name: string, allowExpired?: boolean }, command: Command) => {
      const { out } = contextFor(command, signal)
      const bytes = file === '-' ? await readStdin() : new Uint8Array(await readFile(file))
      try {
        const verified = await verifyRecord(opts.name, bytes, { allowExpired: opts.allowExpired === true })
        const expired = verified.validity.getTime() <= Date.now()
        const result = {
          verdict: expired ? 'valid-expired' : 'valid',
          name: verified.name,
          value: verified.value,
          sequence: verified.sequence,
          validity: verified.validity,
          ttlSeconds: Number(verified.ttlNs / 1_000_000_000n),
          bytes: bytes.byteLength
        }
        out.result(result, () => [
          `verdict:   ${result.verdict}`,
          `name:      ${result.name}`,
          `value:     ${result.value}`,
          `sequence:  ${result.sequence}`,
          `validity:  ${result.validity.toISOString()}${expired ? ' (expired)' : ''}`,
          `ttl:       ${result.ttlSeconds}s`
        ].join('\n'))
      } catch (err) {
        if (err instanceof Error && !out.json) process.stdout.write(`verdict:   invalid (${err.name}: ${err.message})\n`)
        throw err
      }
    })
}
