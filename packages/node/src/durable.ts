import { randomBytes } from 'node:crypto'
import fs from 'node:fs/promises'
import path from 'node:path'
import { NextToLast } from 'blockstore-fs/sharding'
import { SYNC_CONCURRENCY } from './constants.js'
import type { AbortOptions } from '@libp2p/interface'
import type { ShardingStrategy } from 'blockstore-fs/sharding'
import type { CID } from 'multiformats/cid'

/**
 * Flushes a directory's entries (new, renamed or removed files) to disk. Some platforms
 * (Windows) cannot open directories; there the rename itself is as durable as it gets.
 */
export async function fsyncDir (dir: string): Promise<void> {
  let handle: fs.FileHandle | undefined
  try {
    handle = await fs.open(dir, 'r')
    await handle.sync()
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code
    if (code !== 'EISDIR' && code !== 'EPERM' && code !== 'EINVAL') {
      throw err
    }
  } finally {
    await handle?.close()
  }
}

/**
 * Replaces `file` with `bytes` so that a crash at any point leaves either the old content or
 * the new one, never a mix: write a temp file in the same directory, fsync it, rename it over
 * `file`, fsync the directory.
 */
export async function writeAtomic (file: string, bytes: Uint8Array, options: AbortOptions = {}): Promise<void> {
  const dir = path.dirname(file)
  const tmp = path.join(dir, `.${path.basename(file)}.${process.pid}.${randomBytes(6).toString('hex')}.tmp`)
  options.signal?.throwIfAborted()
  const handle = await fs.open(tmp, 'wx', 0o600)
  let renamed = false
  try {
    try {
      await handle.writeFile(bytes)
      await handle.sync()
    } finally {
      await handle.close()
    }
    options.signal?.throwIfAborted()
    await fs.rename(tmp, file)
    renamed = true
    await fsyncDir(dir)
  } finally {
    if (!renamed) {
      await fs.rm(tmp, { force: true })
    }
  }
}

/**
 * Makes blocks that blockstore-fs already wrote durable.
 *
 * blockstore-fs 4 writes each block through `steno` (write `.<name>.tmp`, then rename) and
 * never fsyncs: after an OS crash a block can be missing or empty even though `put`
 * resolved. This fsyncs each block file, then each shard directory and the blocks root (so
 * new shard directories and renames are on disk too). Call it before moving a head pointer.
 */
export async function syncBlockFiles (root: string, cids: Iterable<CID> | AsyncIterable<CID>, options: AbortOptions & { sharding?: ShardingStrategy } = {}): Promise<number> {
  const sharding = options.sharding ?? new NextToLast()
  const dirs = new Set<string>()
  let count = 0
  let pending: Array<Promise<void>> = []

  const syncFile = async (file: string): Promise<void> => {
    const handle = await fs.open(file, 'r')
    try {
      await handle.sync()
    } finally {
      await handle.close()
    }
  }

  for await (const cid of cids) {
    options.signal?.throwIfAborted()
    const { dir, file } = sharding.encode(cid)
    const shardDir = path.join(root, dir)
    dirs.add(shardDir)
    pending.push(syncFile(path.join(shardDir, file)))
    count++
    if (pending.length >= SYNC_CONCURRENCY) {
      await Promise.all(pending)
      pending = []
    }
  }
  await Promise.all(pending)

  const dirList = [...dirs]
  for (let i = 0; i < dirList.length; i += SYNC_CONCURRENCY) {
    options.signal?.throwIfAborted()
    await Promise.all(dirList.slice(i, i + SYNC_CONCURRENCY).map(async d => { await fsyncDir(d) }))
  }
  if (count > 0) {
    await fsyncDir(root)
  }
  return count
}
