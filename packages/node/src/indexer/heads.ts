import fs from 'node:fs/promises'
import path from 'node:path'
import { CID } from 'multiformats/cid'
import { fsyncDir, writeAtomic } from '../durable.js'
import { HEAD_FILE, HEAD_LOG_FILE, HEAD_LOG_KEEP, HEAD_LOG_MAX_LINES, MAX_HEAD_FILE_BYTES } from './constants.js'
import { CorruptHeadFileError } from './errors.js'
import type { Logger } from '@libp2p/interface'

/** A head as the head files record it. */
export interface HeadPointer {
  cid: CID
  height: number
}

/**
 * The indexer's head pointer on disk, in `<dir>`:
 * - `head.json`: `{ v: 1, cid, height, previous: { cid, height } | null }`, replaced atomically
 *   (write, fsync, rename, fsync the directory), so it holds the old head or the new one.
 * - `heads.log`: one `<height> <cid>` line per durable head, appended and fsynced before
 *   `head.json` moves, compacted to its last lines now and then.
 *
 * Both are written only after every block of the head is durable, so any head they name is whole.
 */
export interface HeadStore {
  /** Recorded heads, newest first (highest height; `head.json` wins a tie), each once. */
  candidates(): Promise<HeadPointer[]>
  /** Records a durable head: the head log first, then `head.json`. */
  commit(head: HeadPointer, previous: HeadPointer | null): Promise<void>
}

export interface HeadStoreComponents {
  log: Logger
}

function pointerFrom (value: unknown, what: string): HeadPointer {
  const { cid, height } = (value ?? {}) as { cid?: unknown, height?: unknown }
  if (typeof cid !== 'string' || typeof height !== 'number' || !Number.isSafeInteger(height) || height < 0) {
    throw new CorruptHeadFileError(`${what} does not hold a { cid, height } head`)
  }
  try {
    return { cid: CID.parse(cid), height }
  } catch {
    throw new CorruptHeadFileError(`${what} holds an invalid CID`)
  }
}

function pointerJson (head: HeadPointer): { cid: string, height: number } {
  return { cid: head.cid.toString(), height: head.height }
}

async function readSmallFile (file: string): Promise<string | undefined> {
  let handle: fs.FileHandle | undefined
  try {
    handle = await fs.open(file, 'r')
    const { size } = await handle.stat()
    if (size > MAX_HEAD_FILE_BYTES) {
      throw new CorruptHeadFileError(`${file} is larger than ${MAX_HEAD_FILE_BYTES} bytes`)
    }
    return await handle.readFile('utf8')
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') {
      return undefined
    }
    throw err
  } finally {
    await handle?.close()
  }
}

class FileHeadStore implements HeadStore {
  private readonly headFile: string
  private readonly logFile: string
  private readonly dir: string
  private readonly log: Logger
  private logLines: number | undefined
  /** whether the head log ends in a newline (a crash may tear its last line) */
  private logEndsClean = true

  constructor (dir: string, components: HeadStoreComponents) {
    this.dir = dir
    this.headFile = path.join(dir, HEAD_FILE)
    this.logFile = path.join(dir, HEAD_LOG_FILE)
    this.log = components.log
  }

  /** head.json's head and its previous, or [] when it is missing or unreadable. */
  private async fromHeadFile (): Promise<HeadPointer[]> {
    try {
      const text = await readSmallFile(this.headFile)
      if (text == null) {
        return []
      }
      let value: { previous?: unknown }
      try {
        value = JSON.parse(text) as { previous?: unknown }
      } catch {
        throw new CorruptHeadFileError(`${this.headFile} is not JSON`)
      }
      const head = pointerFrom(value, this.headFile)
      return value.previous == null ? [head] : [head, pointerFrom(value.previous, `${this.headFile} previous`)]
    } catch (err) {
      this.log.error('cannot read %s, falling back to the head log - %e', this.headFile, err)
      return []
    }
  }

  /** The head log's heads, oldest first; bad lines (a torn last line) are skipped. */
  private async fromHeadLog (): Promise<HeadPointer[]> {
    let text: string | undefined
    try {
      text = await readSmallFile(this.logFile)
    } catch (err) {
      this.log.error('cannot read %s - %e', this.logFile, err)
    }
    const heads: HeadPointer[] = []
    const lines = (text ?? '').split('\n').filter(line => line.length > 0)
    this.logLines = lines.length
    this.logEndsClean = text == null || text.length === 0 || text.endsWith('\n')
    for (const line of lines) {
      const [height, cid] = line.split(' ')
      try {
        heads.push(pointerFrom({ height: Number(height), cid }, `${this.logFile} line`))
      } catch {
        this.log('skipping bad head log line %s', line)
      }
    }
    return heads
  }

  /** Temp files of atomic writes that a kill interrupted (`.head.json.<pid>.<random>.tmp`). */
  private async removeStaleTemps (): Promise<void> {
    const names = await fs.readdir(this.dir).catch(() => [])
    const stale = names.filter(name => name.endsWith('.tmp') && (name.startsWith(`.${HEAD_FILE}.`) || name.startsWith(`.${HEAD_LOG_FILE}.`)))
    await Promise.all(stale.map(async name => { await fs.rm(path.join(this.dir, name), { force: true }) }))
  }

  async candidates (): Promise<HeadPointer[]> {
    await this.removeStaleTemps()
    const all = [...await this.fromHeadFile(), ...(await this.fromHeadLog()).reverse()]
    const seen = new Set<string>()
    const unique = all.filter(head => {
      const key = head.cid.toString()
      if (seen.has(key)) return false
      seen.add(key)
      return true
    })
    // stable: among equal heights, head.json's entry stays first
    return unique.sort((a, b) => b.height - a.height)
  }

  async commit (head: HeadPointer, previous: HeadPointer | null): Promise<void> {
    await this.appendLog(head)
    const json = { v: 1, ...pointerJson(head), previous: previous == null ? null : pointerJson(previous) }
    await writeAtomic(this.headFile, new TextEncoder().encode(`${JSON.stringify(json)}\n`))
  }

  private async appendLog (head: HeadPointer): Promise<void> {
    if (this.logLines == null) {
      await this.fromHeadLog()
    }
    const line = `${head.height} ${head.cid.toString()}\n`
    if ((this.logLines ?? 0) >= HEAD_LOG_MAX_LINES) {
      const kept = (await this.fromHeadLog()).slice(-(HEAD_LOG_KEEP - 1))
      const text = kept.map(h => `${h.height} ${h.cid.toString()}\n`).join('') + line
      await writeAtomic(this.logFile, new TextEncoder().encode(text))
      this.logLines = kept.length + 1
      return
    }
    const created = this.logLines === 0
    const handle = await fs.open(this.logFile, 'a', 0o600)
    try {
      // a torn last line must not swallow this one
      await handle.write(this.logEndsClean ? line : `\n${line}`)
      await handle.datasync()
      this.logEndsClean = true
    } finally {
      await handle.close()
    }
    if (created) {
      await fsyncDir(this.dir)
    }
    this.logLines = (this.logLines ?? 0) + 1
  }
}

export function headStore (dir: string, components: HeadStoreComponents): HeadStore {
  return new FileHeadStore(dir, components)
}
