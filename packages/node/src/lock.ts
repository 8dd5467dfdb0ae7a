import { randomBytes } from 'node:crypto'
import fs from 'node:fs/promises'
import path from 'node:path'
import { RepoLockedError, RepoNotWritableError } from './errors.js'
import type { Logger } from '@libp2p/interface'

export interface RepoLock {
  readonly file: string
  release(): Promise<void>
}

interface LockContent {
  pid: number
  nonce: string
}

function parseLock (text: string): LockContent | undefined {
  const [pidText, nonce] = text.trim().split(/\s+/)
  const pid = Number(pidText)
  if (!Number.isSafeInteger(pid) || pid <= 0) {
    return undefined
  }
  return { pid, nonce: nonce ?? '' }
}

/** Whether a process with this pid exists (EPERM: it exists but belongs to someone else). */
function isAlive (pid: number): boolean {
  try {
    process.kill(pid, 0)
    return true
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM'
  }
}

function notWritable (dir: string, err: unknown): RepoNotWritableError {
  const code = (err as NodeJS.ErrnoException).code ?? 'unknown error'
  return new RepoNotWritableError(`Cannot write the capdex repo at ${dir} (${code})`)
}

/**
 * Takes `<dir>/repo.lock`. The lock file holds "<pid> <nonce>" and is created whole: written
 * to a temp file, then hard-linked into place (link fails with EEXIST when the lock exists),
 * so nobody ever reads a half-written lock. A lock whose pid is dead is stale and taken over.
 *
 * Limits: a dead pid reused by an unrelated live process makes the lock look live (remove the
 * file by hand), and two processes taking over the same stale lock at the same instant can
 * both succeed (the window is one unlink+link).
 */
export async function acquireLock (dir: string, lockName: string, log: Logger): Promise<RepoLock> {
  const file = path.join(dir, lockName)
  const nonce = randomBytes(8).toString('hex')
  const content = `${process.pid} ${nonce}\n`
  const tmp = path.join(dir, `.${lockName}.${process.pid}.${nonce}.tmp`)

  try {
    await fs.writeFile(tmp, content, { flag: 'wx', mode: 0o644 })
  } catch (err) {
    throw notWritable(dir, err)
  }

  try {
    for (let attempt = 0; attempt < 2; attempt++) {
      try {
        await fs.link(tmp, file)
        log('took repo lock %s', file)
        return {
          file,
          release: async () => {
            // only remove the lock if it is still ours
            const current = await fs.readFile(file, 'utf8').catch(() => '')
            if (parseLock(current)?.nonce === nonce) {
              await fs.rm(file, { force: true })
              log('released repo lock %s', file)
            }
          }
        }
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'EEXIST') {
          throw notWritable(dir, err)
        }
      }

      const existing = await fs.readFile(file, 'utf8').catch(() => undefined)
      if (existing === undefined) {
        // removed between our link and our read: try again
        continue
      }
      const holder = parseLock(existing)
      if (holder !== undefined && isAlive(holder.pid)) {
        throw new RepoLockedError(`The capdex repo at ${dir} is locked by process ${holder.pid} (${file})`)
      }
      log('taking over stale repo lock %s (pid %s is not running)', file, holder?.pid ?? 'unreadable')
      await fs.rm(file, { force: true })
    }
    throw new RepoLockedError(`The capdex repo at ${dir} is locked (${file} keeps reappearing)`)
  } finally {
    await fs.rm(tmp, { force: true })
  }
}
