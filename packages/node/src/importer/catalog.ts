import fs from 'node:fs/promises'
import path from 'node:path'
import { parseSkypilotCsv } from '@capdex/manifest'
import { CLOUD_NAME_PATTERN, MAX_CATALOG_BYTES } from './constants.js'
import { CatalogTooLargeError, InvalidCloudNameError, UnreadableCsvError } from './errors.js'
import type { SkypilotRow } from '@capdex/manifest'
import type { AbortOptions } from '@libp2p/interface'

/** The rows of one SkyPilot `vms.csv` catalog and the cloud they belong to. */
export interface SkypilotCatalog {
  /** where the rows came from (a file path), for reports */
  source: string
  /** the cloud's name: selects per-cloud quirks and is part of every row's identity */
  cloud: string
  rows: SkypilotRow[]
}

export interface ReadSkypilotCatalogOptions extends AbortOptions {
  /**
   * The catalog's cloud.
   *
   * @default cloudFromPath(file)
   */
  cloud?: string
  /**
   * Largest file read.
   *
   * @default MAX_CATALOG_BYTES (64 MiB)
   */
  maxBytes?: number
}

/** Lower-cases a cloud name and checks it. @throws InvalidCloudNameError */
export function checkCloudName (cloud: string): string {
  const name = cloud.trim().toLowerCase()
  if (!CLOUD_NAME_PATTERN.test(name)) {
    throw new InvalidCloudNameError(`Cloud name ${JSON.stringify(cloud)} must be 1-64 characters of a-z 0-9 . _ -, starting with a letter or digit`)
  }
  return name
}

/**
 * The cloud a catalog file is named after: `lambda.csv` → `lambda`; SkyPilot's own layout,
 * `…/lambda/vms.csv`, → `lambda` (the folder).
 *
 * @throws InvalidCloudNameError when the name is not a usable cloud name (pass one explicitly)
 */
export function cloudFromPath (file: string): string {
  const base = path.basename(file).replace(/\.csv$/i, '')
  const name = base.toLowerCase() === 'vms' ? path.basename(path.dirname(path.resolve(file))) : base
  try {
    return checkCloudName(name)
  } catch {
    throw new InvalidCloudNameError(`Cannot tell the cloud from the file name ${JSON.stringify(file)}: name it with --cloud`)
  }
}

/**
 * Reads and parses a SkyPilot catalog file, columns found by header name.
 *
 * @throws UnreadableCsvError when the file cannot be read or is not UTF-8
 * @throws CatalogTooLargeError when it is larger than `maxBytes`
 * @throws MissingCsvColumnError (from @capdex/manifest) when it is empty or its header lacks a required column
 * @throws InvalidCsvError (from @capdex/manifest) when it is not well-formed CSV
 */
export async function readSkypilotCatalog (file: string, options: ReadSkypilotCatalogOptions = {}): Promise<SkypilotCatalog> {
  const cloud = options.cloud != null ? checkCloudName(options.cloud) : cloudFromPath(file)
  const maxBytes = options.maxBytes ?? MAX_CATALOG_BYTES
  let bytes: Uint8Array
  let handle: fs.FileHandle | undefined
  try {
    handle = await fs.open(file, 'r')
    const { size } = await handle.stat()
    if (size > maxBytes) {
      throw new CatalogTooLargeError(`${file} is ${size} bytes; the importer reads at most ${maxBytes}`)
    }
    bytes = await handle.readFile(options.signal != null ? { signal: options.signal } : {})
  } catch (err) {
    if (err instanceof Error && (err.name === 'CatalogTooLargeError' || err.name === 'AbortError')) throw err
    throw new UnreadableCsvError(`Cannot read ${file} (${(err as NodeJS.ErrnoException).code ?? String(err)})`)
  } finally {
    await handle?.close()
  }
  if (bytes.byteLength > maxBytes) {
    throw new CatalogTooLargeError(`${file} is larger than ${maxBytes} bytes`)
  }
  let text: string
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(bytes)
  } catch {
    throw new UnreadableCsvError(`${file} is not UTF-8 text`)
  }
  try {
    return { source: file, cloud, rows: parseSkypilotCsv(text) }
  } catch (err) {
    // MissingCsvColumnError and InvalidCsvError keep their names; the message gains the file
    if (err instanceof Error) err.message = `${file}: ${text.trim() === '' ? 'the file is empty; ' : ''}${err.message}`
    throw err
  }
}
