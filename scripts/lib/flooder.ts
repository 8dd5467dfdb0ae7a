/**
 * A hostile peer for the flood fault test: a capdex node that publishes invalid announcements on
 * the providers topic as fast as it can, up to `--rate` per second, for `--seconds`. Every message
 * is distinct (so gossipsub's duplicate filter does not absorb it); they alternate between bytes
 * that are not an announcement at all and well-formed announcements of a real record whose
 * signature was overwritten (the indexer must run the Ed25519 check to reject those).
 *
 * `tsx --conditions=capdex-source scripts/lib/flooder.ts --network N --bootstrap ADDR [--rate 10000] [--seconds 10]`
 * prints `{ event: 'ready', peerId }` once the indexer is subscribed, floods at once, then prints
 * `{ event: 'done', sent, failed, seconds, rate, disconnects, connections }` and exits (`failed`:
 * publishes that reached no peer; `disconnects`: peers that hung up; `connections`: left at the end).
 */
import { randomBytes } from 'node:crypto'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { parseArgs } from 'node:util'
import { encodeManifest, manifestCid } from '@capdex/manifest'
import { createCapdexNode, openRepo } from '@capdex/node'
import { createRecord, encodeAnnouncement, nameFromPublicKey, providersTopic } from '@capdex/registry'
import { simulatedKey, simulatedManifest, seededRandom } from './simulated-providers.js'

const { values } = parseArgs({
  options: {
    network: { type: 'string' },
    bootstrap: { type: 'string', multiple: true, default: [] },
    rate: { type: 'string', default: '10000' },
    seconds: { type: 'string', default: '10' }
  },
  strict: true
})
if (values.network === undefined || values.bootstrap.length === 0) throw new TypeError('usage: flooder --network N --bootstrap ADDR [--rate R] [--seconds S]')
const rate = Number(values.rate)
const seconds = Number(values.seconds)
const write = (value: Record<string, unknown>): void => { process.stdout.write(`${JSON.stringify(value)}\n`) }

// a real record, and where its V2 signature sits in the announcement's bytes
const key = simulatedKey(randomBytes(8).toString('hex'), 0)
const name = nameFromPublicKey(key.publicKey)
const manifestBytes = encodeManifest(simulatedManifest(name, seededRandom(1), Date.now()))
let signatureV2: Uint8Array | undefined
const capturing = Object.assign(Object.create(key) as typeof key, {
  sign: async (payload: Uint8Array) => {
    const signature = await key.sign(payload)
    signatureV2 ??= signature
    return signature
  }
})
const template = Buffer.from(encodeAnnouncement({ record: await createRecord(capturing, manifestCid(manifestBytes), 1n, { lifetimeMs: 600_000 }), manifest: manifestBytes }))
const signatureAt = signatureV2 === undefined ? -1 : template.indexOf(signatureV2)
if (signatureAt < 0) throw new Error('cannot find the signature in the announcement')

let counter = 0
/** The next invalid message: odd ones are garbage, even ones carry a forged signature. */
function nextMessage (): Uint8Array {
  counter++
  if (counter % 2 === 1) {
    const garbage = randomBytes(96)
    garbage.writeUInt32BE(counter, 0)
    return garbage
  }
  const forged = Buffer.from(template)
  forged.writeUInt32BE(counter, signatureAt)
  forged.writeUInt32BE(counter ^ 0x5a5a5a5a, signatureAt + 4)
  return forged
}

const dir = await mkdtemp(join(tmpdir(), 'capdex-flooder-'))
const repo = await openRepo(join(dir, 'repo'), { create: true, init: { network: values.network } })
const node = await createCapdexNode({ repo }, { network: values.network, bootstrap: values.bootstrap })
const topic = providersTopic(values.network)
try {
  await node.waitForTopicPeers(topic, { signal: AbortSignal.timeout(60_000) })
  write({ event: 'ready', peerId: node.peerId.toString(), signatureAt })
  // the indexer hangs up on a graylisted peer and refuses it back
  let disconnects = 0
  node.libp2p.addEventListener('peer:disconnect', () => { disconnects++ })
  let attempted = 0
  let failed = 0
  const start = performance.now()
  const end = start + seconds * 1000
  while (performance.now() < end) {
    const due = Math.min(rate * ((performance.now() - start) / 1000), rate * seconds)
    // at most 200 at a time, then let libp2p write them out
    for (let i = 0; i < 200 && attempted < due; i++) {
      attempted++
      void node.publish(topic, nextMessage()).catch(() => { failed++ })
    }
    await new Promise<void>((resolve) => setImmediate(resolve))
  }
  const elapsed = (performance.now() - start) / 1000
  const sent = attempted - failed
  write({ event: 'done', sent, failed, seconds: Math.round(elapsed * 100) / 100, rate: Math.round(sent / elapsed), disconnects, connections: node.libp2p.getConnections().length })
} finally {
  await node.stop()
  await repo.close()
  await rm(dir, { recursive: true, force: true })
}
