import { spawn, spawnSync } from 'node:child_process'
import fs from 'node:fs/promises'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { CID } from 'multiformats/cid'
import { sha256 } from 'multiformats/hashes/sha2'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { CONFIG_FILE, LOCK_FILE, defaultRepoPath, initRepo, openRepo, writeAtomic } from '../src/index.js'
import { rejection, tempDir, within } from './helpers.js'
import type { Repo } from '../src/index.js'

const WORKSPACE_ROOT = fileURLToPath(new URL('../../..', import.meta.url))
const HOLD_LOCK_SCRIPT = fileURLToPath(new URL('./fixtures/hold-repo.ts', import.meta.url))

describe('repo', () => {
  let dir: string
  let remove: () => Promise<void>
  const open: Repo[] = []

  beforeEach(async () => {
    ({ dir, remove } = await tempDir('capdex-repo-'))
  })

  afterEach(async () => {
    await Promise.all(open.splice(0).map(async r => { await r.close() }))
    await remove()
  })

  it('defaults to $CAPDEX_HOME, then ~/.capdex', () => {
    const saved = process.env.CAPDEX_HOME
    try {
      process.env.CAPDEX_HOME = dir
      expect(defaultRepoPath()).toBe(dir)
      delete process.env.CAPDEX_HOME
      expect(defaultRepoPath()).toMatch(/\.capdex$/)
    } finally {
      if (saved === undefined) delete process.env.CAPDEX_HOME
      else process.env.CAPDEX_HOME = saved
    }
  })

  it('fails with RepoNotFoundError for a missing repo', async () => {
    const err = await rejection(openRepo(path.join(dir, 'nope')))
    expect(err.name).toBe('RepoNotFoundError')
    expect(err.message).toContain('capdex init')
  })

  it('creates a repo with config, lock, and stable keys', async () => {
    const repoPath = path.join(dir, 'repo')
    const repo = await openRepo(repoPath, { create: true, init: { network: 'devnet' } })
    open.push(repo)
    expect(repo.config.network).toBe('devnet')
    expect(repo.config.version).toBe(1)
    expect(repo.config.keys).toEqual({ peer: 'self', provider: 'provider' })
    expect(repo.config.keychain.pass.length).toBeGreaterThanOrEqual(20)
    expect(await fs.readFile(path.join(repoPath, LOCK_FILE), 'utf8')).toMatch(new RegExp(`^${process.pid} `))

    const self = await repo.getOrCreateKey('self')
    const provider = await repo.getOrCreateKey('provider')
    expect(self.type).toBe('Ed25519')
    expect(self.publicKey.equals(provider.publicKey)).toBe(false)
    // concurrent callers get the same key
    const [a, b] = await Promise.all([repo.getOrCreateKey('k1'), repo.getOrCreateKey('k1')])
    expect(a.publicKey.equals(b.publicKey)).toBe(true)
    expect((await repo.listKeys()).map(k => k.name).sort()).toEqual(['k1', 'provider', 'self'])
    expect((await rejection(repo.getOrCreateKey('../evil'))).name).toBe('InvalidKeyNameError')

    await repo.close()
    open.pop()
    await expect(fs.access(path.join(repoPath, LOCK_FILE))).rejects.toThrow()

    const again = await openRepo(repoPath)
    open.push(again)
    expect((await again.getOrCreateKey('self')).publicKey.equals(self.publicKey)).toBe(true)
  })

  it('fails with RepoExistsError when initializing twice', async () => {
    await initRepo(path.join(dir, 'repo'))
    expect((await rejection(initRepo(path.join(dir, 'repo')))).name).toBe('RepoExistsError')
  })

  it('fails with RepoNotWritableError when the repo cannot be created', async () => {
    // tests run as root, so make the parent a regular file rather than chmod it
    const file = path.join(dir, 'file')
    await fs.writeFile(file, 'not a directory')
    const err = await rejection(initRepo(path.join(file, 'repo')))
    expect(err.name).toBe('RepoNotWritableError')
    expect(err.message).toContain(path.join(file, 'repo'))
    expect((await rejection(openRepo(path.join(file, 'repo'), { create: true }))).name).toBe('RepoNotWritableError')
  })

  it('fails with CorruptConfigError on bad JSON and never rewrites the file', async () => {
    const repoPath = path.join(dir, 'repo')
    await initRepo(repoPath)
    const file = path.join(repoPath, CONFIG_FILE)
    const bad = '{ "version": 1, "network": '
    await fs.writeFile(file, bad)

    const err = await rejection(openRepo(repoPath))
    expect(err.name).toBe('CorruptConfigError')
    expect(err.message).toContain(file)
    expect(err.message).toContain('not valid JSON')
    expect(await fs.readFile(file, 'utf8')).toBe(bad)
    // the lock was released
    await expect(fs.access(path.join(repoPath, LOCK_FILE))).rejects.toThrow()
  })

  it('fails with CorruptConfigError on a config of the wrong shape', async () => {
    const repoPath = path.join(dir, 'repo')
    const config = await initRepo(repoPath)
    const file = path.join(repoPath, CONFIG_FILE)
    for (const [broken, problem] of [
      [{ ...config, version: 2 }, '"version"'],
      [{ ...config, bootsrap: [] }, 'unknown field "bootsrap"'],
      [{ ...config, listen: '/ip4/0.0.0.0/tcp/1' }, '"listen"'],
      [{ ...config, keychain: { pass: 'short', salt: config.keychain.salt } }, 'keychain.pass'],
      [[1, 2], 'JSON object']
    ] as const) {
      const text = JSON.stringify(broken)
      await fs.writeFile(file, text)
      const err = await rejection(openRepo(repoPath))
      expect(err.name).toBe('CorruptConfigError')
      expect(err.message).toContain(problem)
      expect(await fs.readFile(file, 'utf8')).toBe(text)
    }
  })

  it('refuses a second open of the same repo in this process', async () => {
    const repoPath = path.join(dir, 'repo')
    open.push(await openRepo(repoPath, { create: true }))
    const err = await rejection(openRepo(repoPath))
    expect(err.name).toBe('RepoLockedError')
    expect(err.message).toContain(repoPath)
    expect(err.message).toContain(String(process.pid))
  })

  it('refuses an open while another process holds the repo, and takes the lock over once it dies', async () => {
    const repoPath = path.join(dir, 'repo')
    await initRepo(repoPath)
    const child = spawn(process.execPath, ['--conditions=capdex-source', '--import', 'tsx', HOLD_LOCK_SCRIPT, repoPath], {
      cwd: WORKSPACE_ROOT,
      stdio: ['pipe', 'pipe', 'inherit']
    })
    try {
      await within(new Promise<void>((resolve, reject) => {
        child.stdout.on('data', (chunk: Buffer) => { if (chunk.toString().includes('locked')) resolve() })
        child.on('exit', (code) => { reject(new Error(`holder exited early with ${code}`)) })
      }), 20_000, 'the child process taking the lock')

      const err = await rejection(openRepo(repoPath))
      expect(err.name).toBe('RepoLockedError')
      expect(err.message).toContain(`process ${child.pid}`)
    } finally {
      // kill it without letting it release the lock: the lock goes stale
      const exited = new Promise<void>((resolve) => { child.on('exit', () => { resolve() }) })
      child.kill('SIGKILL')
      await within(exited, 5000, 'the child process exiting')
    }
    expect(await fs.readFile(path.join(repoPath, LOCK_FILE), 'utf8')).toContain(String(child.pid))

    const repo = await openRepo(repoPath)
    open.push(repo)
    expect(await fs.readFile(path.join(repoPath, LOCK_FILE), 'utf8')).toMatch(new RegExp(`^${process.pid} `))
  })

  it('takes over a stale lock whose pid is dead', async () => {
    const repoPath = path.join(dir, 'repo')
    await initRepo(repoPath)
    const dead = spawnSync(process.execPath, ['-e', '']).pid
    await fs.writeFile(path.join(repoPath, LOCK_FILE), `${dead} stale\n`)
    const repo = await openRepo(repoPath)
    open.push(repo)
    expect(await fs.readFile(path.join(repoPath, LOCK_FILE), 'utf8')).toMatch(new RegExp(`^${process.pid} `))
  })

  it('saves the config atomically and refuses to save an invalid one', async () => {
    const repo = await openRepo(path.join(dir, 'repo'), { create: true })
    open.push(repo)
    await repo.saveConfig({ ...repo.config, bootstrap: ['/ip4/10.0.0.1/tcp/4021/p2p/12D3KooWtest'] })
    const saved = JSON.parse(await fs.readFile(path.join(repo.path, CONFIG_FILE), 'utf8')) as { bootstrap: string[] }
    expect(saved.bootstrap).toEqual(['/ip4/10.0.0.1/tcp/4021/p2p/12D3KooWtest'])
    expect((await rejection(repo.saveConfig({ ...repo.config, network: 'bad network' }))).name).toBe('CorruptConfigError')
    expect((await fs.readdir(repo.path)).filter(f => f.endsWith('.tmp'))).toEqual([])
  })

  it('writes files atomically and syncs blocks', async () => {
    const file = path.join(dir, 'head')
    await writeAtomic(file, new TextEncoder().encode('one'))
    await writeAtomic(file, new TextEncoder().encode('two'))
    expect(await fs.readFile(file, 'utf8')).toBe('two')
    expect(await fs.readdir(dir)).toEqual(['head'])

    const repo = await openRepo(path.join(dir, 'repo'), { create: true })
    open.push(repo)
    const cids: CID[] = []
    for (let i = 0; i < 5; i++) {
      const bytes = new TextEncoder().encode(`block ${i}`)
      const cid = CID.createV1(0x55, await sha256.digest(bytes))
      await repo.blockstore.put(cid, bytes)
      cids.push(cid)
    }
    expect(await repo.syncBlocks(cids)).toBe(5)
  })
})
