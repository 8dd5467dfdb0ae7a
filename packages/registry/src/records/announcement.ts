import { hash } from 'node:crypto'
import * as dagCbor from '@ipld/dag-cbor'
import { ANNOUNCEMENT_INLINE_MANIFEST_MAX, ANNOUNCEMENT_MANIFEST_MAX_SIZE, ANNOUNCEMENT_MAX_SIZE, NETWORK_NAME_MAX_LENGTH, RECORD_MAX_SIZE } from './constants.js'
import { AnnouncementTooLargeError, InvalidAnnouncementError, InvalidNetworkNameError, RecordTooLargeError } from './errors.js'
import type { Announcement } from './index.js'

const NETWORK_NAME = /^[A-Za-z0-9._-]+$/

/**
 * Encode an announcement as DAG-CBOR `{ record, manifest? }`. The manifest rides along
 * only when it is at most ANNOUNCEMENT_INLINE_MANIFEST_MAX bytes; a larger one is left
 * out for subscribers to fetch by the CID in the record.
 */
export function encodeAnnouncement (announcement: Announcement): Uint8Array {
  const { record, manifest } = announcement
  if (record.byteLength > RECORD_MAX_SIZE) {
    throw new RecordTooLargeError(`Record is ${record.byteLength} bytes; the limit is ${RECORD_MAX_SIZE}`)
  }
  if (record.byteLength === 0) {
    throw new InvalidAnnouncementError('Announcement record is empty')
  }
  return dagCbor.encode(manifest !== undefined && manifest.byteLength <= ANNOUNCEMENT_INLINE_MANIFEST_MAX ? { record, manifest } : { record })
}

/**
 * Decode an announcement strictly: the size cap before any parsing, then canonical
 * DAG-CBOR holding a map with exactly `record` (bytes, at most 10 KiB) and optionally
 * `manifest` (bytes, at most 64 KiB). Byte fields are views into `bytes`.
 */
export function decodeAnnouncement (bytes: Uint8Array): Announcement {
  if (bytes.byteLength > ANNOUNCEMENT_MAX_SIZE) {
    throw new AnnouncementTooLargeError(`Announcement is ${bytes.byteLength} bytes; the limit is ${ANNOUNCEMENT_MAX_SIZE}`)
  }

  let decoded: unknown
  try {
    decoded = dagCbor.decode(bytes)
  } catch {
    throw new InvalidAnnouncementError('Announcement is not valid DAG-CBOR')
  }
  if (typeof decoded !== 'object' || decoded === null || Object.getPrototypeOf(decoded) !== Object.prototype) {
    throw new InvalidAnnouncementError('Announcement must be a DAG-CBOR map')
  }

  const fields = decoded as Record<string, unknown>
  const keys = Object.keys(fields)
  // Strict DAG-CBOR already rejects non-minimal lengths and duplicate keys; the key order
  // is the one freedom left, and one announcement must have one encoding (one message id).
  if (keys[0] !== 'record' || keys.length > 2 || (keys.length === 2 && keys[1] !== 'manifest')) {
    throw new InvalidAnnouncementError('Announcement fields must be "record" and optionally "manifest", in canonical order')
  }

  const { record, manifest } = fields
  if (!(record instanceof Uint8Array) || record.byteLength === 0) {
    throw new InvalidAnnouncementError('Announcement field "record" must be non-empty bytes')
  }
  if (record.byteLength > RECORD_MAX_SIZE) {
    throw new RecordTooLargeError(`Record is ${record.byteLength} bytes; the limit is ${RECORD_MAX_SIZE}`)
  }
  if (!Object.hasOwn(fields, 'manifest')) {
    return { record }
  }
  if (!(manifest instanceof Uint8Array)) {
    throw new InvalidAnnouncementError('Announcement field "manifest" must be bytes')
  }
  if (manifest.byteLength > ANNOUNCEMENT_MANIFEST_MAX_SIZE) {
    throw new InvalidAnnouncementError(`Inline manifest is ${manifest.byteLength} bytes; the limit is ${ANNOUNCEMENT_MANIFEST_MAX_SIZE}`)
  }
  return { record, manifest }
}

/** The gossipsub message id of an announcement: sha256 of its data, so relays dedupe by content. */
export function announcementMessageId (bytes: Uint8Array): Uint8Array {
  const digest = hash('sha256', bytes, 'buffer')
  return new Uint8Array(digest.buffer, digest.byteOffset, digest.byteLength)
}

function checkNetworkName (network: string): void {
  if (network.length === 0 || network.length > NETWORK_NAME_MAX_LENGTH || !NETWORK_NAME.test(network)) {
    throw new InvalidNetworkNameError(`Network name "${network.slice(0, NETWORK_NAME_MAX_LENGTH)}" must be 1-${NETWORK_NAME_MAX_LENGTH} characters of [A-Za-z0-9._-]`)
  }
}

/** The topic providers announce on. */
export function providersTopic (network: string): string {
  checkNetworkName(network)
  return `capdex/${network}/providers/1`
}

/** The topic indexers announce snapshot heads on. */
export function indexTopic (network: string): string {
  checkNetworkName(network)
  return `capdex/${network}/index/1`
}
