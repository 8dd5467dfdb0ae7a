/**
 * The BlockSource contract, run against every implementation: verified bytes, a named error for a
 * missing block, the size cap, and never a byte that does not hash to its CID.
 */
import { createServer } from 'node:http'
import { CID } from 'multiformats/cid'
import { sha256 } from 'multiformats/hashes/sha2'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { bitswapBlockSource, gatewayClient, localBlockSource, storingBlockSource } from '../src/index.js'
import { tempRepo } from './client-fixtures.js'
import { connect, rejection, startPeer } from './helpers.js'
import type { TestRepo } from './client-fixtures.js'
import type { BlockSource } from '../src/index.js'
import type { Server } from 'node:http'

const RAW = 0x55

async function rawCid (bytes: Uint8Array): Promise<CID> {
  return CID.createV1(RAW, await sha256.digest(bytes))
}

interface Harness {
  source: BlockSource
  /** a block the source can serve */
  present: { cid: CID, bytes: Uint8Array }
  /** the error name for a block nobody has */
  missing: string
  /** a CID whose bytes the source is handed wrong, when the implementation can be lied to */
  tampered?: CID
}

function blockSourceCompliance (name: string, setup: () => Promise<Harness>): void {
  describe(`BlockSource compliance: ${name}`, () => {
    let h: Harness
    beforeAll(async () => { h = await setup() })

    it('returns the bytes of a block, hashed against its CID', async () => {
      expect(await h.source.get(h.present.cid)).toEqual(h.present.bytes)
    })

    it('names a missing block', async () => {
      const absent = await rawCid(new TextEncoder().encode(`absent ${name} ${Math.random()}`))
      expect((await rejection(h.source.get(absent))).name).toBe(h.missing)
    })

    it('refuses a block over maxBytes', async () => {
      expect((await rejection(h.source.get(h.present.cid, { maxBytes: 4 }))).name).toBe('BlockTooLargeError')
    })

    it('never hands out bytes that do not match the CID', async () => {
      if (h.tampered == null) return
      expect((await rejection(h.source.get(h.tampered))).name).toBe('BlockHashMismatchError')
    })
  })
}

const PRESENT = new TextEncoder().encode('a block that every source can serve')
const GOOD = new TextEncoder().encode('the bytes the CID names')
const BAD = new TextEncoder().encode('other bytes')

let local: TestRepo
let server: Server
const cleanups: Array<() => Promise<void>> = []

beforeAll(async () => {
  local = await tempRepo()
  await local.repo.blockstore.put(await rawCid(PRESENT), PRESENT)
  // stored under the CID of GOOD, bypassing every check
  await local.repo.blockstore.put(await rawCid(GOOD), BAD)
})

afterAll(async () => {
  for (const cleanup of cleanups.splice(0)) await cleanup()
  if (server != null) await new Promise((resolve) => server.close(resolve))
  await local.close()
})

blockSourceCompliance('local', async () => ({
  source: localBlockSource({ blockstore: local.repo.blockstore }),
  present: { cid: await rawCid(PRESENT), bytes: PRESENT },
  missing: 'BlockNotFoundError',
  tampered: await rawCid(GOOD)
}))

blockSourceCompliance('storing (local first, then a remote)', async () => {
  const empty = await tempRepo()
  cleanups.push(async () => { await empty.close() })
  const remote = localBlockSource({ blockstore: local.repo.blockstore })
  return {
    source: storingBlockSource({ blockstore: empty.repo.blockstore }, remote),
    present: { cid: await rawCid(PRESENT), bytes: PRESENT },
    missing: 'BlockNotFoundError',
    tampered: await rawCid(GOOD)
  }
})

blockSourceCompliance('trustless gateway', async () => {
  const source = localBlockSource({ blockstore: local.repo.blockstore })
  const lie = (await rawCid(GOOD)).toString()
  server = createServer((req, res) => {
    void (async () => {
      const match = /^\/ipfs\/([^/?]+)/.exec(req.url ?? '')
      if (match == null) { res.writeHead(404).end(); return }
      if (match[1] === lie) { res.writeHead(200).end(BAD); return }
      let bytes: Uint8Array
      try {
        bytes = await source.get(CID.parse(match[1]!))
      } catch {
        res.writeHead(404).end()
        return
      }
      res.writeHead(200).end(bytes)
    })()
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const address = server.address() as { port: number }
  return {
    source: gatewayClient({ url: `http://127.0.0.1:${address.port}` }),
    present: { cid: await rawCid(PRESENT), bytes: PRESENT },
    missing: 'BlockNotFoundError',
    tampered: await rawCid(GOOD)
  }
})

blockSourceCompliance('bitswap', async () => {
  const [a, b] = await Promise.all([startPeer(), startPeer()])
  cleanups.push(async () => { await a.stop() }, async () => { await b.stop() })
  await a.repo.blockstore.put(await rawCid(PRESENT), PRESENT)
  await connect(b.node, a.node)
  // helia checks what peers send; a lying peer cannot be set up from here
  return {
    source: bitswapBlockSource({ node: b.node }, { timeoutMs: 1000 }),
    present: { cid: await rawCid(PRESENT), bytes: PRESENT },
    missing: 'BlockFetchTimeoutError'
  }
})
