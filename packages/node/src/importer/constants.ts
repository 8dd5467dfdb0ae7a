import { DEFAULT_VALIDATION_BURST, DEFAULT_VALIDATION_RATE } from '../constants.js'

/** Keychain name of the broker seed key every imported row's key is derived from. */
export const BROKER_KEY_NAME = 'skypilot-broker'

/**
 * HKDF-SHA256 salt of row key derivation. A new version of the derivation gets a new salt, so
 * keys derived under different rules can never coincide.
 */
export const ROW_KEY_SALT = 'capdex/import/skypilot/v1'

/** Bytes of an Ed25519 seed. */
export const ED25519_SEED_BYTES = 32

/** Datastore prefix of the import index: `/capdex/import/<cloud>/<row id>` → JSON `ImportIndexEntry`. */
export const IMPORT_INDEX_PREFIX = '/capdex/import'

/** Cloud names: lower-case letters, digits, `.`, `_` and `-`, starting with a letter or digit. */
export const CLOUD_NAME_PATTERN = /^[a-z0-9][a-z0-9._-]{0,63}$/

/** Largest catalog file `readSkypilotCatalog` reads (the biggest real catalog, oci, is 0.5 MiB). */
export const MAX_CATALOG_BYTES = 64 * 1024 * 1024

/**
 * Announcements published per second after the first burst. Receivers charge every message to the
 * sender's validation budget (DEFAULT_VALIDATION_RATE per second, DEFAULT_VALIDATION_BURST at once)
 * and silently ignore what is over it, so a broker stays below that: 3 per second.
 */
export const DEFAULT_IMPORT_PUBLISH_RATE = DEFAULT_VALIDATION_RATE * 3 / 4

/** Announcements published at once before pacing starts: half the receivers' default burst (16). */
export const DEFAULT_IMPORT_PUBLISH_BURST = DEFAULT_VALIDATION_BURST / 2

/** Rows between two `node:import:sign` / `node:import:publish` progress events. */
export const IMPORT_PROGRESS_EVERY = 100
