import type { ManifestSchema, PricingUnit } from './types.js'

/** Schema identifier written into every version 1 manifest. */
export const MANIFEST_SCHEMA: ManifestSchema = 'capdex.manifest.v1'

/** Largest encoded manifest accepted or produced (DESIGN: at most 64 KiB). */
export const MANIFEST_MAX_BYTES = 65_536

/** Multicodec of DAG-JSON, the manifest block codec. */
export const DAG_JSON_CODE = 0x0129

/** Multihash code of sha2-256, the manifest block hash. */
export const SHA2_256_CODE = 0x12

/** Multicodec of libp2p public keys: the codec of IPNS names. */
export const LIBP2P_KEY_CODE = 0x72

/** Multihash code of the identity hash that inlines an Ed25519 key into an IPNS name. */
export const IDENTITY_CODE = 0x00

/** Protobuf prefix of a libp2p Ed25519 public key: KeyType=Ed25519 (0x08 0x01), Data of 32 bytes (0x12 0x20). */
export const ED25519_PUBLIC_KEY_PREFIX: readonly number[] = [0x08, 0x01, 0x12, 0x20]

/** Length of an inlined libp2p Ed25519 public key: the prefix plus 32 key bytes. */
export const ED25519_PUBLIC_KEY_LENGTH = 36

/** Caps on manifest lists and strings, so that a validated manifest is always cheap to index. */
export const MAX_GPU_CLAIMS = 64
export const MAX_STORAGE_CLAIMS = 64
export const MAX_PRICING_CLAIMS = 16
export const MAX_ENDPOINTS = 32
export const MAX_ATTESTATIONS = 64
export const MAX_NAME_LENGTH = 256
export const MAX_REGION_LENGTH = 64
export const MAX_ENDPOINT_LENGTH = 1024
export const MAX_AMOUNT_LENGTH = 32
/** RFC 3339 timestamps are at most this long (nanosecond fraction and numeric offset). */
export const MAX_TIMESTAMP_LENGTH = 35

/** A decimal amount: no sign, no exponent, no leading zeros, e.g. "2.10" or "0.3698". */
export const DECIMAL_AMOUNT_PATTERN = /^(?:0|[1-9]\d*)(?:\.\d+)?$/

/** ISO 4217 currency codes are three upper-case letters. */
export const CURRENCY_PATTERN = /^[A-Z]{3}$/

/** RFC 3339 date-time (section 5.6); ranges are checked after the match. */
export const RFC3339_PATTERN = /^(\d{4})-(\d{2})-(\d{2})[Tt](\d{2}):(\d{2}):(\d{2})(?:\.\d{1,9})?(?:[Zz]|[+-](\d{2}):(\d{2}))$/

/** A region is empty (unknown) or a lower-case slug such as "eu-west" or "us-east-1". */
export const REGION_PATTERN = /^(?:[a-z0-9]+(?:-[a-z0-9]+)*)?$/

/** CPU architecture names such as "x86_64", "arm64". */
export const ARCH_PATTERN = /^[a-z0-9_]{1,32}$/

/** An endpoint is a multiaddr ("/dns4/…") or a URL with a scheme ("https://…"), without whitespace. */
export const ENDPOINT_PATTERN = /^(?:\/[^\s]+|[a-z][a-z0-9+.-]*:\/\/[^\s]+)$/i

/**
 * Every officially assigned ISO 3166-1 alpha-2 code (249), as published by the ISO 3166
 * maintenance agency. User-assigned and reserved codes (EU, UK, XK, ZZ…) are not countries.
 */
export const ISO_3166_ALPHA2: readonly string[] = (
  'AD AE AF AG AI AL AM AO AQ AR AS AT AU AW AX AZ BA BB BD BE BF BG BH BI BJ BL BM BN BO BQ BR BS BT BV BW BY BZ ' +
  'CA CC CD CF CG CH CI CK CL CM CN CO CR CU CV CW CX CY CZ DE DJ DK DM DO DZ EC EE EG EH ER ES ET FI FJ FK FM FO FR ' +
  'GA GB GD GE GF GG GH GI GL GM GN GP GQ GR GS GT GU GW GY HK HM HN HR HT HU ID IE IL IM IN IO IQ IR IS IT JE JM JO JP ' +
  'KE KG KH KI KM KN KP KR KW KY KZ LA LB LC LI LK LR LS LT LU LV LY MA MC MD ME MF MG MH MK ML MM MN MO MP MQ MR MS MT ' +
  'MU MV MW MX MY MZ NA NC NE NF NG NI NL NO NP NR NU NZ OM PA PE PF PG PH PK PL PM PN PR PS PT PW PY QA RE RO RS RU RW ' +
  'SA SB SC SD SE SG SH SI SJ SK SL SM SN SO SR SS ST SV SX SY SZ TC TD TF TG TH TJ TK TL TM TN TO TR TT TV TW TZ UA UG ' +
  'UM US UY UZ VA VC VE VG VI VN VU WF WS YE YT ZA ZM ZW'
).split(' ')

/** A GPU whose utilization (percent) is at or above this is busy. */
export const GPU_BUSY_UTILIZATION_PERCENT = 10

/** A GPU whose used memory is at or above this fraction of its total is busy. */
export const GPU_BUSY_MEMORY_FRACTION = 0.1

/** Detected VRAM that differs from the table's by more than this fraction is reported. */
export const GPU_VRAM_MISMATCH_FRACTION = 0.1

/** The price unit a bare `--price 2.10` means. */
export const DEFAULT_PRICE_UNIT: PricingUnit = 'gpu-hour'

/** The currency a `--price` without one means. */
export const DEFAULT_CURRENCY = 'USD'

/** BMC and virtual display adapters (vendor or model): never offered compute, so detection skips them without a warning. */
export const DISPLAY_ONLY_ADAPTER_PATTERN = /aspeed|matrox|cirrus|vmware|red hat|qxl|virtio|bochs|hyper-v|microsoft|innotek|virtualbox|parallels/i

/** Integrated graphics as lspci names them; skipped like display-only adapters. */
export const INTEGRATED_GRAPHICS_PATTERN = /\b(?:uhd|iris|hd) graphics\b|graphics family/i

/** Filesystem types detection reports as "network" storage. */
export const NETWORK_FILESYSTEMS: ReadonlySet<string> = new Set([
  'nfs', 'nfs4', 'cifs', 'smb3', 'smbfs', 'lustre', 'ceph', 'glusterfs', 'fuse.glusterfs', 'beegfs', 'gpfs', 'fuse.juicefs', 'fuse.s3fs'
])

/** Largest operator overrides file read by `loadOverrides`. */
export const OVERRIDES_MAX_BYTES = 65_536

/** Decimals kept when a float price from a catalog becomes a decimal string. */
export const PRICE_DECIMALS = 4

/** Decimals always shown in a price string ("23.60", not "23.6"). */
export const PRICE_MIN_DECIMALS = 2

/** SkyPilot catalogs whose GpuInfo `SizeInMiB` holds the total over all GPUs of the row, not one GPU. */
export const SKYPILOT_GPU_MEMORY_IS_TOTAL: ReadonlySet<string> = new Set(['vast', 'primeintellect'])

/** SkyPilot catalogs whose GpuInfo `SizeInMiB` holds gigabytes. */
export const SKYPILOT_GPU_MEMORY_IN_GB: ReadonlySet<string> = new Set(['shadeform'])

/** Columns `parseSkypilotCsv` requires; the others (GpuInfo, SpotPrice, AvailabilityZone, StorageGiB) are optional. */
export const SKYPILOT_REQUIRED_COLUMNS: readonly string[] = [
  'InstanceType', 'AcceleratorName', 'AcceleratorCount', 'vCPUs', 'MemoryGiB', 'Price', 'Region'
]

/**
 * The country of a provider whose operator gave none: CLDR's "unknown region" code. Detection falls
 * back to it (with a warning) so `capdex provider detect` works before any configuration; queries
 * can tell such providers apart with `country=ZZ`.
 */
export const UNKNOWN_COUNTRY = 'ZZ'
