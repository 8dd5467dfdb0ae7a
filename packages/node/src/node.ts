import type { CapdexNode, CapdexNodeComponents, CapdexNodeInit } from './types.js'

/**
 * Creates and starts a capdex node over an open repo: libp2p (TCP, noise, yamux, identify,
 * ping, gossipsub) with the repo's peer key, helia with bitswap over the repo's blockstore,
 * and the IPNS record protocol. Bootstrap addresses are dialed before it resolves.
 *
 * The network stack is imported on the first call, not when `@capdex/node` is imported, so
 * offline commands that only open the repo do not pay for it.
 */
export async function createCapdexNode (components: CapdexNodeComponents, init: CapdexNodeInit = {}): Promise<CapdexNode> {
  const { createNode } = await import('./node-impl.js')
  return createNode(components, init)
}
