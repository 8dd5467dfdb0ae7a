import { rootLink } from './codec.js'
import { compareBytes, equalBytes } from './keys.js'
import { throwIfAborted } from './store.js'
import type { Link, TreeNode } from './codec.js'
import type { TreeContext } from './context.js'
import type { AbortOptions, DiffEntry } from './index.js'
import type { CID } from 'multiformats/cid'

interface Subtree {
  key: Uint8Array
  link: Link
  level: number
}

interface Leaf {
  key: Uint8Array
  value: Uint8Array
}

/** A subtree not yet opened, or one entry. */
type Item = Subtree | Leaf

function isSubtree (item: Item): item is Subtree {
  return 'link' in item
}

/** One tree seen as a key-ordered stream of items; subtrees open only when the other side forces it. */
class Side {
  /** items in reverse order: the next one is last */
  private readonly stack: Item[] = []

  constructor (private readonly ctx: TreeContext, private readonly options: AbortOptions) {}

  async start (root: CID): Promise<void> {
    this.push(await this.ctx.store.load(rootLink(root), this.options))
  }

  peek (): Item | undefined {
    return this.stack[this.stack.length - 1]
  }

  pop (): void {
    this.stack.pop()
  }

  /** Replaces the subtree on top with its children (or entries). */
  async open (subtree: Subtree): Promise<void> {
    throwIfAborted(this.options.signal)
    this.stack.pop()
    this.push(await this.ctx.store.loadAt(subtree.link, subtree.level, this.options))
  }

  private push (node: TreeNode): void {
    for (let i = node.keys.length - 1; i >= 0; i--) {
      this.stack.push(node.leaf
        ? { key: node.keys.get(i), value: node.values.get(i) }
        : { key: node.keys.get(i), link: node.links.get(i), level: node.level - 1 })
    }
  }
}

/**
 * Merges the two trees as key-ordered streams. Two subtrees at the head of both streams with the same CID hold the
 * same entries over the same key range, so both are skipped unopened; only subtrees whose CIDs differ are read.
 */
export async function * diff (ctx: TreeContext, a: CID, b: CID, options: AbortOptions = {}): AsyncGenerator<DiffEntry> {
  if (a.equals(b)) {
    return
  }
  const before = new Side(ctx, options)
  const after = new Side(ctx, options)
  await before.start(a)
  await after.start(b)
  for (;;) {
    const left = before.peek()
    const right = after.peek()
    if (left === undefined && right === undefined) {
      return
    }
    const order = left === undefined ? 1 : right === undefined ? -1 : compareBytes(left.key, right.key)
    const change = order < 0
      ? await advance(before, left!, (entry) => ({ key: entry.key, before: entry.value }))
      : order > 0
        ? await advance(after, right!, (entry) => ({ key: entry.key, after: entry.value }))
        : await step(before, after, left!, right!)
    if (change !== undefined) {
      yield change
    }
  }
}

/** The head of one side sorts first: open it if it is a subtree, else it is a change on its own. */
async function advance (side: Side, item: Item, change: (entry: Leaf) => DiffEntry): Promise<DiffEntry | undefined> {
  if (isSubtree(item)) {
    await side.open(item)
    return undefined
  }
  side.pop()
  return change(item)
}

/**
 * Both heads share a first key: skip identical subtrees, compare two entries (returning the change, if any),
 * or open the taller subtree (both when equally tall).
 */
async function step (before: Side, after: Side, left: Item, right: Item): Promise<DiffEntry | undefined> {
  const leftLevel = isSubtree(left) ? left.level : -1
  const rightLevel = isSubtree(right) ? right.level : -1
  if (isSubtree(left) && isSubtree(right) && equalBytes(left.link, right.link)) {
    before.pop()
    after.pop()
  } else if (!isSubtree(left) && !isSubtree(right)) {
    before.pop()
    after.pop()
    if (!equalBytes(left.value, right.value)) {
      return { key: left.key, before: left.value, after: right.value }
    }
  } else {
    if (isSubtree(left) && leftLevel >= rightLevel) {
      await before.open(left)
    }
    if (isSubtree(right) && rightLevel >= leftLevel) {
      await after.open(right)
    }
  }
  return undefined
}
