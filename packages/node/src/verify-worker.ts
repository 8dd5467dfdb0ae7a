/** Worker thread of `announcementVerifier`: verifies the announcements of each job it is sent. */
import { parentPort } from 'node:worker_threads'
import { verifyItem } from './verify-pool.js'
import type { WorkerJob, WorkerReply, WorkerVerdict } from './verify-pool.js'

parentPort?.on('message', (job: WorkerJob) => {
  void (async () => {
    const verdicts: WorkerVerdict[] = []
    for (const item of job.items) verdicts.push(await verifyItem(item))
    parentPort?.postMessage({ id: job.id, verdicts } satisfies WorkerReply)
  })()
})
