/** Worker thread of `announcementVerifier`: verifies the announcements of each job it is sent. */
import { getPriority, setPriority } from 'node:os'
import { parentPort, workerData } from 'node:worker_threads'
import { verifyItem } from './verify-pool.js'
import type { WorkerInit, WorkerJob, WorkerReply, WorkerVerdict } from './verify-pool.js'

// On Linux, pid 0 names the calling thread alone, so this lowers this worker and not the thread that folds
// (elsewhere it would name the whole process).
const { nice } = workerData as WorkerInit
if (process.platform === 'linux' && nice > 0) {
  try {
    setPriority(0, Math.min(19, getPriority(0) + nice))
  } catch {
    // refused (a sandbox without setpriority): verify at the inherited priority
  }
}

parentPort?.on('message', (job: WorkerJob) => {
  void (async () => {
    const verdicts: WorkerVerdict[] = []
    for (const item of job.items) verdicts.push(await verifyItem(item))
    parentPort?.postMessage({ id: job.id, verdicts } satisfies WorkerReply)
  })()
})
