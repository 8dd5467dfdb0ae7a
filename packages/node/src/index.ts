/**
 * @packageDocumentation
 *
 * The network layer of capdex: the repo directory (blocks, datastore, keychain, config, lock),
 * a lean libp2p + helia node (TCP, noise, yamux, identify, ping, gossipsub, bitswap; no DHT,
 * no public bootstrap), IPNS records served over `/capdex/ipns-record/1.0.0`, and the
 * provider and announcement-listener services.
 *
 * @example
 *
 * ```TypeScript
 * import { openRepo, createCapdexNode, providerService } from '@capdex/node'
 *
 * const repo = await openRepo('/var/lib/capdex', { create: true })
 * const node = await createCapdexNode({ repo }, { listen: ['/ip4/0.0.0.0/tcp/4021'], bootstrap: ['/ip4/1.2.3.4/tcp/4021/p2p/12D3…'] })
 * const provider = providerService({ node, repo })
 * const { name, sequence } = await provider.publishOnce({ manifest })
 *
 * await node.stop()
 * await repo.close()
 * ```
 */

export { createCapdexNode } from './node.js'
export { openRepo, initRepo, defaultRepoPath } from './repo.js'
export { writeAtomic, fsyncDir } from './durable.js'
export { validationBudget } from './budget.js'
export { providerService } from './provider.js'
export { announcementListener } from './announcements.js'
export { announcementVerifier, DEFAULT_VERIFY_WORKER_NICE } from './verify-pool.js'
export * from './indexer/index.js'
export * from './gateway/index.js'
export * from './importer/index.js'
export * from './errors.js'
export * from './constants.js'
export * from './client/index.js'

export type { Repo, OpenRepoOptions, InitRepoOptions, KeyInfo } from './repo.js'
export type { RepoConfig, KeychainConfig } from './config.js'
export type { ValidationBudget, ValidationBudgetInit, ValidationBudgetStats } from './budget.js'
export type {
  CapdexNode,
  CapdexNodeComponents,
  CapdexNodeInit,
  CapdexServices,
  TopicHandler,
  TopicMessage,
  Verdict,
  PublishOptions,
  PublishResult,
  PublishAndAwaitPeerOptions,
  WaitForTopicPeersOptions,
  GetVerifiedBlockOptions,
  GetBlockProgressEvents,
  PutBlockOptions,
  PutRecordOptions,
  FetchRecordOptions
} from './types.js'
export type { ProviderService, ProviderServiceComponents, ProviderServiceInit, PublishOnceOptions, ProviderPublished, ProviderPublishProgressEvents, WatchOptions } from './provider.js'
export type { AnnouncementVerifier, AnnouncementVerifierInit, PooledAnnouncement, PooledVerifyOptions } from './verify-pool.js'
export type { AnnouncementListener, AnnouncementListenerComponents, AnnouncementListenerInit, AnnouncementListenerStats, ReceivedAnnouncement } from './announcements.js'
