/**
 * Distinct exit codes per failure kind, so scripts can tell them apart without parsing text.
 * Errors are classified by their `name` (every capdex library error has a stable one).
 */
export const EXIT = {
  OK: 0,
  /** an unexpected failure: a bug or an unclassified error */
  INTERNAL: 1,
  /** bad command-line usage: unknown option, missing argument */
  USAGE: 2,
  /** the input was malformed: a manifest, query, config file or CSV */
  BAD_INPUT: 3,
  /** the repo could not be used: missing, locked, corrupt or unwritable */
  REPO: 4,
  /** the network could not deliver: no peers, timeouts */
  NETWORK: 5,
  /** something failed verification: a signature, a hash, a chain, a tree invariant */
  VERIFICATION: 6,
  /** a named thing does not exist: a block, a snapshot, a pin, a key */
  NOT_FOUND: 7,
  /** interrupted by SIGINT/SIGTERM before finishing */
  INTERRUPTED: 130
} as const

export type ExitCode = typeof EXIT[keyof typeof EXIT]

const BY_NAME: Array<[RegExp, ExitCode]> = [
  [/^(RepoLocked|RepoNotFound|RepoNotWritable|CorruptConfig|RepoExists)/, EXIT.REPO],
  [/^(NoPeers|Timeout|Fetch|Dial|Network|Gateway)|FetchTimeout/, EXIT.NETWORK],
  [/^(BlockNotFound|MissingBlock|NotFound|KeyNotFound|PinNotFound|IncompleteSnapshot|BeforeFirstSnapshot|HeadNotFound|SnapshotNotFound)/, EXIT.NOT_FOUND],
  [/(Mismatch|Forged|InvalidBlock|InvalidNode|InvalidRecord|Signature|Equivocation|Stale|Expired|UnsupportedKeyType|NotExtending|Tamper|Verification|ChainBroken|InconsistentHistory)/, EXIT.VERIFICATION],
  [/(Query|Syntax|UnknownField|EmptyList|Manifest|Announcement|Invalid|TooLarge|TooLong|Csv|Override|NotASnapshot|BadInput|Usage|Missing|Car)/, EXIT.BAD_INPUT]
]

/** Maps an error to its exit code by its stable `name`. */
export function exitCodeFor (err: unknown): ExitCode {
  if (err instanceof Error) {
    if (err.name === 'AbortError') return EXIT.INTERRUPTED
    if (err.name === 'CommanderError') return EXIT.USAGE
    for (const [pattern, code] of BY_NAME) {
      if (pattern.test(err.name)) return code
    }
  }
  return EXIT.INTERNAL
}
