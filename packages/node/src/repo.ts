import fs from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import { generateKeyPair } from '@libp2p/crypto/keys'
import { keychain as createKeychain } from '@libp2p/keychain'
import { defaultLogger } from '@libp2p/logger'
import { FsBlockstore } from 'blockstore-fs'
import { NamespaceDatastore } from 'datastore-core'
import { LevelDatastore } from 'datastore-level'
import { Key } from 'interface-datastore'
import { defaultConfig, parseConfig, serializeConfig } from './config.js'
import { BLOCKS_DIR, CONFIG_FILE, DATASTORE_DIR, DEFAULT_REPO_DIR, KEY_NAME_PATTERN, KEYCHAIN_DEK, KEYCHAIN_NAMESPACE, LOCK_FILE, MAX_CONFIG_BYTES, REPO_PATH_ENV } from './constants.js'
import { syncBlockFiles, writeAtomic } from './durable.js'
import { CorruptConfigError, InvalidKeyNameError, KeyTypeError, RepoClosedError, RepoExistsError, RepoNotFoundError, RepoNotWritableError } from './errors.js'
import { acquireLock } from './lock.js'
import type { DefaultConfigInit, RepoConfig } from './config.js'
import type { RepoLock } from './lock.js'
import type { Stats } from 'node:fs'
import type { AbortOptions, ComponentLogger, Ed25519PrivateKey, Logger } from '@libp2p/interface'
import type { KeyInfo, Keychain } from '@libp2p/keychain'
import type { Blockstore } from 'interface-blockstore'
import type { Datastore } from 'interface-datastore'
import type { CID } from 'multiformats/cid'

export type { KeyInfo }

/**
 * A capdex repo directory: blocks, datastore, keychain and config, held open by one process.
 *
 * Layout: `config.json`, `repo.lock`, `blocks/` (blockstore-fs), `datastore/` (LevelDB).
 */
export interface Repo {
  /** absolute path of the repo directory */
  readonly path: string
  /** blockstore-fs at `<path>/blocks`; puts are not fsynced, see `syncBlocks` */
  readonly blockstore: Blockstore
  /** datastore-level at `<path>/datastore` */
  readonly datastore: Datastore
  /** @libp2p/keychain over the datastore (namespace `/capdex/keychain`) */
  readonly keychain: Keychain
  /** the parsed `config.json` */
  readonly config: RepoConfig
  /** Validates and atomically replaces `config.json`. */
  saveConfig(next: RepoConfig, options?: AbortOptions): Promise<void>
  /** The Ed25519 key stored under `name`, generated and stored on first use. */
  getOrCreateKey(name: string, options?: AbortOptions): Promise<Ed25519PrivateKey>
  /** Names and ids of the stored keys. */
  listKeys(options?: AbortOptions): Promise<KeyInfo[]>
  /**
   * Makes the given blocks (already put) durable: fsyncs their files and directories.
   * Call it before a head pointer moves to a root that needs them. Returns the count.
   */
  syncBlocks(cids: Iterable<CID> | AsyncIterable<CID>, options?: AbortOptions): Promise<number>
  /** Closes the stores and releases the lock. Safe to call twice. */
  close(): Promise<void>
}

export interface OpenRepoOptions extends AbortOptions {
  /**
   * Create the repo (with `initRepo`) when it does not exist.
   *
   * @default false
   */
  create?: boolean
  /** used only with `create` */
  init?: InitRepoOptions
  logger?: ComponentLogger
}

export interface InitRepoOptions extends DefaultConfigInit {
  logger?: ComponentLogger
}

/** `$CAPDEX_HOME`, or `~/.capdex`. */
export function defaultRepoPath (): string {
  const env = process.env[REPO_PATH_ENV]
  return env != null && env !== '' ? path.resolve(env) : path.join(os.homedir(), DEFAULT_REPO_DIR)
}

function errnoCode (err: unknown): string | undefined {
  return (err as NodeJS.ErrnoException | undefined)?.code
}

async function statOrUndefined (p: string): Promise<Stats | undefined> {
  try {
    return await fs.stat(p)
  } catch (err) {
    const code = errnoCode(err)
    if (code === 'ENOENT' || code === 'ENOTDIR') {
      return undefined
    }
    throw err
  }
}

/**
 * Creates a repo directory with a fresh `config.json` (network, listen defaults, key names
 * and a generated keychain passphrase). Does not open it.
 *
 * @throws RepoExistsError when `<path>/config.json` exists
 * @throws RepoNotWritableError when the directory cannot be created or written
 */
export async function initRepo (repoPath: string = defaultRepoPath(), options: InitRepoOptions = {}): Promise<RepoConfig> {
  const dir = path.resolve(repoPath)
  const log = (options.logger ?? defaultLogger()).forComponent('capdex:repo')
  const config = defaultConfig(options)
  const file = path.join(dir, CONFIG_FILE)

  if (await statOrUndefined(file) != null) {
    throw new RepoExistsError(`A capdex repo already exists at ${dir}`)
  }
  try {
    await fs.mkdir(dir, { recursive: true, mode: 0o700 })
    await fs.mkdir(path.join(dir, BLOCKS_DIR), { recursive: true })
    await fs.mkdir(path.join(dir, DATASTORE_DIR), { recursive: true })
    await writeAtomic(file, serializeConfig(config))
  } catch (err) {
    throw new RepoNotWritableError(`Cannot create the capdex repo at ${dir} (${errnoCode(err) ?? String(err)})`)
  }
  log('initialized repo at %s for network %s', dir, config.network)
  return config
}

/**
 * Opens a repo and takes its lock.
 *
 * @throws RepoNotFoundError when there is no repo at the path (and `create` is not set)
 * @throws RepoLockedError when a live process (this one included) holds the repo
 * @throws CorruptConfigError when `config.json` is not valid; the file is left untouched
 * @throws RepoNotWritableError when the lock cannot be written
 */
export async function openRepo (repoPath: string = defaultRepoPath(), options: OpenRepoOptions = {}): Promise<Repo> {
  const dir = path.resolve(repoPath)
  const logger = options.logger ?? defaultLogger()
  const log = logger.forComponent('capdex:repo')
  const configFile = path.join(dir, CONFIG_FILE)

  const dirStat = await statOrUndefined(dir)
  if (dirStat != null && !dirStat.isDirectory()) {
    throw new RepoNotFoundError(`${dir} is not a directory, run capdex init with another path`)
  }
  if (await statOrUndefined(configFile) == null) {
    if (options.create !== true) {
      throw new RepoNotFoundError(`No capdex repo at ${dir}, run capdex init`)
    }
    await initRepo(dir, { ...options.init, logger })
  }
  options.signal?.throwIfAborted()

  const lock = await acquireLock(dir, LOCK_FILE, log)
  let datastore: LevelDatastore | undefined
  try {
    const bytes = await readConfigFile(configFile)
    const { config, generatedKeychain } = parseConfig(bytes, configFile)

    datastore = new LevelDatastore(path.join(dir, DATASTORE_DIR))
    await datastore.open()
    const blockstore = new FsBlockstore(path.join(dir, BLOCKS_DIR))
    await blockstore.open()

    const repo = new CapdexRepo({ dir, config, lock, datastore, blockstore, logger, log })
    if (generatedKeychain) {
      log('config has no keychain section, generated one')
      await repo.saveConfig(config)
    }
    log('opened repo at %s', dir)
    return repo
  } catch (err) {
    await datastore?.close().catch(() => {})
    await lock.release()
    throw err
  }
}

async function readConfigFile (file: string): Promise<Uint8Array> {
  let handle: fs.FileHandle | undefined
  try {
    handle = await fs.open(file, 'r')
    const { size } = await handle.stat()
    if (size > MAX_CONFIG_BYTES) {
      throw new CorruptConfigError(`${file}: larger than ${MAX_CONFIG_BYTES} bytes`)
    }
    return await handle.readFile()
  } catch (err) {
    if ((err as Error).name === 'CorruptConfigError') {
      throw err
    }
    if (errnoCode(err) === 'ENOENT') {
      throw new RepoNotFoundError(`No capdex repo at ${path.dirname(file)}, run capdex init`)
    }
    throw new CorruptConfigError(`${file}: cannot be read (${errnoCode(err) ?? String(err)})`)
  } finally {
    await handle?.close()
  }
}

interface CapdexRepoInit {
  dir: string
  config: RepoConfig
  lock: RepoLock
  datastore: LevelDatastore
  blockstore: FsBlockstore
  logger: ComponentLogger
  log: Logger
}

class CapdexRepo implements Repo {
  readonly path: string
  readonly blockstore: FsBlockstore
  readonly datastore: LevelDatastore
  readonly keychain: Keychain
  config: RepoConfig
  private readonly lock: RepoLock
  private readonly log: Logger
  private readonly keyStore: Datastore
  private readonly pendingKeys = new Map<string, Promise<Ed25519PrivateKey>>()
  private closed = false

  constructor (init: CapdexRepoInit) {
    this.path = init.dir
    this.config = init.config
    this.lock = init.lock
    this.datastore = init.datastore
    this.blockstore = init.blockstore
    this.log = init.log
    this.keyStore = new NamespaceDatastore(init.datastore, new Key(KEYCHAIN_NAMESPACE))
    this.keychain = createKeychain({
      pass: init.config.keychain.pass,
      dek: { ...KEYCHAIN_DEK, salt: init.config.keychain.salt }
    })({ datastore: this.keyStore, logger: init.logger })
  }

  private assertOpen (): void {
    if (this.closed) {
      throw new RepoClosedError(`The capdex repo at ${this.path} is closed`)
    }
  }

  async saveConfig (next: RepoConfig, options: AbortOptions = {}): Promise<void> {
    this.assertOpen()
    const file = path.join(this.path, CONFIG_FILE)
    const bytes = serializeConfig(next)
    // the same checks as on load: never write a config we would refuse to open
    const { config } = parseConfig(bytes, file)
    await writeAtomic(file, bytes, options)
    this.config = config
  }

  async getOrCreateKey (name: string, options: AbortOptions = {}): Promise<Ed25519PrivateKey> {
    this.assertOpen()
    if (!KEY_NAME_PATTERN.test(name)) {
      throw new InvalidKeyNameError(`Invalid key name ${JSON.stringify(name)}: use 1-100 characters of A-Z a-z 0-9 . _ -`)
    }
    // one load-or-create at a time per name, so concurrent callers get the same key
    const pending = this.pendingKeys.get(name)
    if (pending != null) {
      return pending
    }
    const job = this.loadOrCreateKey(name, options).finally(() => { this.pendingKeys.delete(name) })
    this.pendingKeys.set(name, job)
    return job
  }

  private async loadOrCreateKey (name: string, options: AbortOptions): Promise<Ed25519PrivateKey> {
    // @libp2p/keychain keeps key info at `/info/<name>`; checking it directly avoids the
    // keychain's deliberate random delay on a lookup miss
    if (await this.keyStore.has(new Key(`/info/${name}`), options)) {
      const key = await this.keychain.exportKey(name)
      if (key.type !== 'Ed25519') {
        throw new KeyTypeError(`Key "${name}" is ${key.type}, capdex needs Ed25519`)
      }
      return key
    }
    options.signal?.throwIfAborted()
    const key = await generateKeyPair('Ed25519')
    await this.keychain.importKey(name, key)
    this.log('created key %s', name)
    return key
  }

  async listKeys (options: AbortOptions = {}): Promise<KeyInfo[]> {
    this.assertOpen()
    options.signal?.throwIfAborted()
    return this.keychain.listKeys()
  }

  async syncBlocks (cids: Iterable<CID> | AsyncIterable<CID>, options: AbortOptions = {}): Promise<number> {
    this.assertOpen()
    return syncBlockFiles(this.blockstore.path, cids, options)
  }

  async close (): Promise<void> {
    if (this.closed) {
      return
    }
    this.closed = true
    try {
      await this.blockstore.close()
      await this.datastore.close()
    } finally {
      await this.lock.release()
      this.log('closed repo at %s', this.path)
    }
  }
}
