/** Worker thread of `verify-pool.ts`: verifies the announcements of each job it is sent. */
import { parentPort } from 'node:worker_threads'
import { verifyAnnouncement } from '@capdex/registry'
import type { PooledVerdict, VerifyJob } from './verify-pool.js'

parentPort?.on('message', (job: VerifyJob) => {
  void (async () => {
    const verdicts: PooledVerdict[] = []
    for (const bytes of job.announcements) {
      try {
        const { record, manifestBytes } = await verifyAnnouncement(bytes, { now: job.now })
        verdicts.push({ ok: true, name: record.name, publicKey: record.publicKey.raw, value: record.value, sequence: record.sequence, validity: record.validity.getTime(), ttlNs: record.ttlNs, record: record.bytes, manifest: manifestBytes })
      } catch (err) {
        verdicts.push({ ok: false, error: (err as Error).name })
      }
    }
    parentPort?.postMessage({ id: job.id, verdicts })
  })()
})
