import { randomBytes } from 'node:crypto'
import { createReadStream } from 'node:fs'
import { open, rename, rm, stat } from 'node:fs/promises'
import path from 'node:path'
import { CarTooLargeError, DEFAULT_MAX_CAR_BYTES, exportCar, importCar, localBlockSource, openRepo } from '@capdex/node'
import { contextFor } from '../context.js'
import { UsageError } from '../output.js'
import { formatBytes, parseCid } from './pin.js'
import { defaultSnapshot } from './query.js'
import type { Command } from 'commander'

export function registerSnapshot (program: Command, signal: AbortSignal): void {
  const snapshot = program.command('snapshot').description('export and import snapshots as CAR files')

  snapshot.command('export')
    .description('write the snapshot DAG (from local blocks) as a CARv1 with the snapshot as its root')
    .argument('<cid|latest>', 'snapshot CID, or latest: the trusted head, else the newest pin')
    .argument('<out.car>', 'file to write (replaced atomically)')
    .option('--history', 'include the older snapshots reached through prev')
    .action(async (target: string, file: string, opts: { history?: boolean }, command: Command) => {
      const { out, repoPath } = contextFor(command, signal)
      if (target !== 'latest') parseCid(target)
      const repo = await openRepo(repoPath, { signal })
      const tmp = path.join(path.dirname(path.resolve(file)), `.${path.basename(file)}.${randomBytes(6).toString('hex')}.tmp`)
      try {
        const cid = target === 'latest' ? await defaultSnapshot(repo, signal) : parseCid(target)
        let blocks = 0
        let bytes = 0
        const handle = await open(tmp, 'wx')
        try {
          for await (const chunk of exportCar({ blocks: localBlockSource({ blockstore: repo.blockstore }) }, cid, {
            history: opts.history === true,
            signal,
            onProgress: (event) => {
              blocks = event.detail.blocks
              bytes = event.detail.bytes
              out.progress('exporting', blocks, undefined, `blocks, ${formatBytes(bytes)}`)
            }
          })) {
            await handle.write(chunk)
          }
          await handle.sync()
        } finally {
          await handle.close()
        }
        await rename(tmp, file)
        const size = (await stat(file)).size
        out.progressDone()
        out.result({ event: 'exported', cid, file, blocks, bytes: size, history: opts.history === true },
          () => `exported ${cid.toString()} to ${file}: ${blocks} blocks, ${formatBytes(size)}`)
      } finally {
        await rm(tmp, { force: true })
        await repo.close()
      }
    })

  snapshot.command('import')
    .description('import a snapshot CAR: re-hash every block, check the DAG is whole, then store and pin it (or store nothing)')
    .argument('<in.car>', 'CAR file to read')
    .option('--max-size <bytes>', 'largest CAR accepted', String(DEFAULT_MAX_CAR_BYTES))
    .action(async (file: string, opts: { maxSize: string }, command: Command) => {
      const { out, repoPath } = contextFor(command, signal)
      const maxBytes = Number(opts.maxSize)
      if (!Number.isSafeInteger(maxBytes) || maxBytes <= 0) throw new UsageError(`--max-size must be a positive integer, got '${opts.maxSize}'`)
      const { size } = await stat(file)
      if (size > maxBytes) throw new CarTooLargeError(`${file} is ${size} bytes, over the ${maxBytes} byte cap (--max-size)`)
      const repo = await openRepo(repoPath, { signal })
      try {
        const imported = await importCar({ repo }, createReadStream(file, { signal }), {
          maxBytes,
          signal,
          onProgress: (event) => {
            if (event.type === 'node:car:verify') out.progress('verifying', event.detail.blocks)
            else if (event.type === 'node:car:store') out.progress('storing', event.detail.stored, event.detail.total)
          }
        })
        out.progressDone()
        out.result({ event: 'imported', root: imported.root, blocks: imported.blocks, stored: imported.stored, history: imported.pin.history, pinned: true },
          () => `imported ${imported.root.toString()}: ${imported.blocks} blocks checked, ${imported.stored} new, pinned${imported.pin.history ? ' with history' : ''}`)
      } finally {
        await repo.close()
      }
    })
}
