/** Address the gateway binds when none is given. */
export const DEFAULT_GATEWAY_HOST = '127.0.0.1'

/** Bound on fetching a good copy of a block whose local copy was corrupt. */
export const DEFAULT_GATEWAY_REPAIR_TIMEOUT_MS = 5_000

export const MEDIA_RAW = 'application/vnd.ipld.raw'
export const MEDIA_CAR = 'application/vnd.ipld.car'
export const MEDIA_IPNS_RECORD = 'application/vnd.ipfs.ipns-record'

/** The CAR flavour the gateway sends: version 1, blocks in an order of its own, no duplicates. */
export const CAR_CONTENT_TYPE = 'application/vnd.ipld.car; version=1; order=unk; dups=n'

/** Prometheus text exposition format. */
export const METRICS_CONTENT_TYPE = 'text/plain; version=0.0.4; charset=utf-8'

/** Blocks never change: a year, as gateways send for `/ipfs/` responses. */
export const IMMUTABLE_CACHE_CONTROL = 'public, max-age=29030400, immutable'

/** Longest an IPNS record response may be cached, in seconds. */
export const MAX_IPNS_CACHE_SECONDS = 300
