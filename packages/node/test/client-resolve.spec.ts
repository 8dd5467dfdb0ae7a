import { fromHeliaBlockstore, prolly } from '@capdex/prolly'
import { encodeAnnouncement, fold, indexTopic, nameFromPublicKey, writeSnapshot } from '@capdex/registry'
import { generateKeyPair } from '@libp2p/crypto/keys'
import { afterEach, describe, expect, it } from 'vitest'
import { resolveHead, trustStore } from '../src/index.js'
import { foldChain, indexerRecord, makeProviders, NOW, updateFor } from './client-fixtures.js'
import { connect, NETWORK, rejection, startPeer } from './helpers.js'
import type { TestPeer } from './helpers.js'
import type { NotExtendingError } from '../src/index.js'

describe('resolve', () => {
  const peers: TestPeer[] = []
  afterEach(async () => { await Promise.all(peers.splice(0).map(async (p) => { await p.stop() })) })

  async function pair (): Promise<[TestPeer, TestPeer]> {
    const [indexer, client] = await Promise.all([startPeer(), startPeer()])
    peers.push(indexer, client)
    await connect(client.node, indexer.node)
    return [indexer, client]
  }

  it('trusts the first head, accepts an extension, refuses a fork naming both CIDs', async () => {
    const [indexer, client] = await pair()
    const blocks = fromHeliaBlockstore(indexer.repo.blockstore)
    const providers = await makeProviders(12)
    const batches = [
      await Promise.all(providers.slice(0, 4).map(updateFor)),
      await Promise.all(providers.slice(4, 8).map(updateFor)),
      await Promise.all(providers.slice(8).map(updateFor))
    ]
    const chain = await foldChain(blocks, batches)
    const [h0, h1, h2] = chain.heads
    const components = { node: client.node, datastore: client.repo.datastore }

    // 1. first use
    await indexer.node.putRecord(chain.indexer, await indexerRecord(chain, h0!.cid, 1))
    const first = await resolveHead(components, { indexer: chain.indexer, timeoutMs: 5000 })
    expect(first.cid.equals(h0!.cid)).toBe(true)
    expect(first).toMatchObject({ proof: 'first-use', source: 'record', previous: undefined, indexer: chain.indexer })
    expect((await trustStore(components).get(chain.indexer))?.cid.equals(h0!.cid)).toBe(true)

    // 2. the same head again
    expect((await resolveHead(components, { indexer: chain.indexer, timeoutMs: 5000 })).proof).toBe('unchanged')

    // 3. two folds later: proven by the history tree
    await indexer.node.putRecord(chain.indexer, await indexerRecord(chain, h2!.cid, 2))
    const extended = await resolveHead(components, { indexer: chain.indexer, timeoutMs: 5000 })
    expect(extended.cid.equals(h2!.cid)).toBe(true)
    expect(extended.proof).toBe('history')
    expect(extended.previous?.cid.equals(h0!.cid)).toBe(true)

    // 4. a fork: another chain from the same key, branching off h1, higher than h2
    const fork = await foldChain(blocks, [
      await Promise.all((await makeProviders(3, 100)).map(updateFor)),
      await Promise.all((await makeProviders(3, 200)).map(updateFor))
    ], { indexerKey: chain.indexerKey, from: { cid: h1!.cid, snapshot: h1!.snapshot }, time: NOW + 10_000 })
    const forkHead = fork.heads[1]!
    expect(forkHead.snapshot.height).toBe(3)
    await indexer.node.putRecord(chain.indexer, await indexerRecord(chain, forkHead.cid, 3))
    const err = await rejection(resolveHead(components, { indexer: chain.indexer, timeoutMs: 5000 })) as NotExtendingError
    expect(err.name).toBe('NotExtendingError')
    expect(err.message).toContain(forkHead.cid.toString())
    expect(err.message).toContain(h2!.cid.toString())
    expect(err.trusted?.equals(h2!.cid)).toBe(true)
    expect(err.offered?.equals(forkHead.cid)).toBe(true)
    // trust did not move, and the refused head is kept as evidence
    expect((await trustStore(components).get(chain.indexer))?.cid.equals(h2!.cid)).toBe(true)
    const evidence = []
    for await (const e of trustStore(components).evidence(chain.indexer)) evidence.push(e.cid.toString())
    expect(evidence).toEqual([forkHead.cid.toString()])
  })

  it('refuses a rollback to an older head of the same chain', async () => {
    const [indexer, client] = await pair()
    const blocks = fromHeliaBlockstore(indexer.repo.blockstore)
    const providers = await makeProviders(4)
    const chain = await foldChain(blocks, [[await updateFor(providers[0]!)], [await updateFor(providers[1]!)]])
    const components = { node: client.node, datastore: client.repo.datastore }
    await indexer.node.putRecord(chain.indexer, await indexerRecord(chain, chain.heads[1]!.cid, 1))
    await resolveHead(components, { indexer: chain.indexer, timeoutMs: 5000 })
    await indexer.node.putRecord(chain.indexer, await indexerRecord(chain, chain.heads[0]!.cid, 2))
    const err = await rejection(resolveHead(components, { indexer: chain.indexer, timeoutMs: 5000 }))
    expect(err.name).toBe('NotExtendingError')
    expect(err.message).toContain(chain.heads[0]!.cid.toString())
    expect(err.message).toContain(chain.heads[1]!.cid.toString())
  })

  it('falls back to walking prev when the history tree does not prove the extension', async () => {
    const [indexer, client] = await pair()
    const blocks = fromHeliaBlockstore(indexer.repo.blockstore)
    const providers = await makeProviders(2)
    const chain = await foldChain(blocks, [[await updateFor(providers[0]!)], [await updateFor(providers[1]!)]])
    const [h0, h1] = chain.heads
    // the same head with an empty history tree: only its prev link says where it comes from
    const bare = await writeSnapshot({ ...h1!.snapshot, history: await prolly({ blocks }).empty() }, blocks)
    const components = { node: client.node, datastore: client.repo.datastore }
    await indexer.node.putRecord(chain.indexer, await indexerRecord(chain, h0!.cid, 1))
    await resolveHead(components, { indexer: chain.indexer, timeoutMs: 5000 })
    await indexer.node.putRecord(chain.indexer, await indexerRecord(chain, bare.cid, 2))
    const head = await resolveHead(components, { indexer: chain.indexer, timeoutMs: 5000 })
    expect(head.cid.equals(bare.cid)).toBe(true)
    expect(head.proof).toBe('prev-walk')
  })

  it('learns the head from an announcement on the index topic', async () => {
    const [indexer, client] = await pair()
    const blocks = fromHeliaBlockstore(indexer.repo.blockstore)
    const chain = await foldChain(blocks, [[await updateFor((await makeProviders(1))[0]!)]])
    const record = await indexerRecord(chain, chain.heads[0]!.cid, 1)
    // the indexer serves no record: only the topic can tell
    const resolving = resolveHead({ node: client.node, datastore: client.repo.datastore }, { indexer: chain.indexer, timeoutMs: 20_000 })
    await indexer.node.publishAndAwaitPeer(indexTopic(NETWORK), encodeAnnouncement({ record }), { timeoutMs: 15_000 })
    const head = await resolving
    expect(head.cid.equals(chain.heads[0]!.cid)).toBe(true)
    expect(head.source).toBe('topic')
  })

  it('refuses a head whose snapshot names another indexer', async () => {
    const [indexer, client] = await pair()
    const blocks = fromHeliaBlockstore(indexer.repo.blockstore)
    const other = await generateKeyPair('Ed25519')
    const tree = prolly({ blocks })
    const { cid } = await fold({ prolly: tree, blocks }, null, [], { now: NOW, network: NETWORK, indexer: nameFromPublicKey(other.publicKey) })
    const liar = await generateKeyPair('Ed25519')
    const liarName = nameFromPublicKey(liar.publicKey)
    await indexer.node.putRecord(liarName, await indexerRecord({ indexerKey: liar }, cid, 1))
    const err = await rejection(resolveHead({ node: client.node, datastore: client.repo.datastore }, { indexer: liarName, timeoutMs: 5000 }))
    expect(err.name).toBe('IndexerMismatchError')
  })

  it('fails with HeadNotFoundError when nobody knows the indexer', async () => {
    const [, client] = await pair()
    const nobody = nameFromPublicKey((await generateKeyPair('Ed25519')).publicKey)
    const err = await rejection(resolveHead({ node: client.node, datastore: client.repo.datastore }, { indexer: nobody, timeoutMs: 300 }))
    expect(err.name).toBe('HeadNotFoundError')
  })
})
