import { it } from 'vitest'
import { prolly } from '@capdex/prolly'
import { query, recordCache, manifestCache } from '../src/query/index.js'
import { buildFixture, makeProvider, random, randomSpec, NOW } from './query-fixtures.js'

it('tmp bench', async () => {
  const rand = random(7)
  const ps = []
  for (let i = 0; i < 10000; i++) {
    const s = randomSpec(rand)
    if (i % 100 === 0) s.gpus = [{ model: 'L40S', count: 3 }]
    else s.gpus = s.gpus.filter((g) => g.model !== 'L40S')
    ps.push(await makeProvider(s))
  }
  const fx = await buildFixture(ps)
  const c = { prolly: prolly({ blocks: fx.blocks }), blocks: fx.blocks, recordCache: recordCache(), manifestCache: manifestCache({ maxSize: 20000 }) }
  for (const q of ['gpu=L40S', 'gpu=L40S gpus>=3', 'status!=offline', 'gpu=H100 region=eu-west']) {
    const times = []
    let n = 0
    for (let i = 0; i < 5; i++) {
      const t = performance.now()
      n = 0
      for await (const _ of query(c, fx.opened, q, { now: NOW })) n++
      times.push((performance.now() - t).toFixed(1))
    }
    console.log(q, n, times.join(' '))
  }
}, 600_000)
