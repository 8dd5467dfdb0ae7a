/**
 * The graylist guard: after a Reject the sender's messages are not validated, a peer whose score
 * falls below the graylist threshold is hung up on, and its dials are refused while its score is
 * retained; a peer that sends only valid messages is untouched.
 */
import { providersTopic } from '@capdex/registry'
import { describe, expect, it } from 'vitest'
import { SCORE_THRESHOLDS } from '../src/index.js'
import { connect, deferred, NETWORK, rejection, peersStoppedAfterEach, until, within } from './helpers.js'

const TOPIC = providersTopic(NETWORK)

describe('graylist guard', () => {
  const peer = peersStoppedAfterEach()

  it('stops validating a rejected sender, hangs up on it once graylisted and refuses it back', async () => {
    const [attacker, honest, b] = await Promise.all([peer(), peer(), peer()])
    const validated: string[] = []
    const first = deferred<undefined>()
    const good = deferred<undefined>()
    b.node.subscribe(TOPIC, {
      validate: (msg) => {
        const text = new TextDecoder().decode(msg.data)
        validated.push(text)
        first.resolve(undefined)
        if (text === 'good') good.resolve(undefined)
        return text.startsWith('bad') ? 'reject' : 'accept'
      },
      onMessage: () => {}
    })
    await connect(attacker.node, b.node)
    await connect(honest.node, b.node)

    await attacker.node.publishAndAwaitPeer(TOPIC, new TextEncoder().encode('bad 1'), { timeoutMs: 5000 })
    await within(first.promise, 5000, 'validation')
    // sent right after the Reject, while gossipsub's cached score still lets it through
    await attacker.node.publish(TOPIC, new TextEncoder().encode('bad 2'))
    await honest.node.publishAndAwaitPeer(TOPIC, new TextEncoder().encode('good'), { timeoutMs: 5000 })

    const pubsub = b.node.libp2p.services.pubsub
    await until(() => b.node.libp2p.getConnections(attacker.node.peerId).length === 0, pubsub, ['gossipsub:heartbeat'], 15_000)
    expect(b.node.peerScore(attacker.node.peerId)).toBeLessThan(SCORE_THRESHOLDS.graylistThreshold)
    // publishing returns once sent: under load the honest message may still be on its way
    await within(good.promise, 5000, 'the honest message')
    expect(validated).toContain('good')
    expect(validated).not.toContain('bad 2')
    expect(b.node.libp2p.getConnections(honest.node.peerId)).not.toHaveLength(0)

    // refused both ways while its score is retained (its own dial may complete on its side before ours drops it)
    await connect(attacker.node, b.node).catch(() => {})
    expect(b.node.libp2p.getConnections(attacker.node.peerId)).toHaveLength(0)
    expect(await rejection(connect(b.node, attacker.node))).toMatchObject({ name: 'DialDeniedError' })
  })
})
