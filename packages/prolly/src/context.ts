import type { ChunkRules } from './chunker.js'
import type { NodeStore } from './store.js'

/** What every operation needs: the node store and the chunking rules of this tree. */
export interface TreeContext {
  store: NodeStore
  rules: ChunkRules
}
