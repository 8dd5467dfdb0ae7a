import { prolly, memoryBlockStore } from '@capdex/prolly'
import { hash, createHash } from 'node:crypto'
const enc = new TextEncoder()
const N = 100_000
let seed = 1
const rnd = () => { seed = (seed * 1103515245 + 12345) & 0x7fffffff; return seed / 0x7fffffff }
const keys = new Set<string>()
while (keys.size < N) { let k = 'k51qzi5uqu5d'; while (k.length < 38) k += '0123456789abcdefghijklmnopqrstuvwxyz'[Math.floor(rnd() * 36)]; keys.add(k) }
const entries = [...keys].sort().map(k => ({ key: enc.encode(k), value: Uint8Array.from({ length: 300 }, () => rnd() * 256) }))
const blocks = memoryBlockStore()
const tree = prolly({ blocks })
for (let r = 0; r < 3; r++) {
  let t = performance.now()
  const root = await tree.build(entries)
  console.log('build ms', performance.now() - t)
  t = performance.now()
  for (let i = 0; i < 100000; i++) await tree.get(root, entries[(i * 7919) % N]!.key)
  console.log('warm get us', (performance.now() - t) * 1000 / 100000, tree.stats)
  const cold = prolly({ blocks }, { cacheSize: 0 })
  t = performance.now()
  for (let i = 0; i < 5000; i++) await cold.get(root, entries[(i * 7919) % N]!.key)
  console.log('cold get us', (performance.now() - t) * 1000 / 5000)
  t = performance.now()
  const ops = Array.from({ length: 1000 }, (_, i) => ({ op: 'put' as const, key: entries[(i * 7919) % N]!.key, value: new Uint8Array(300).fill(r) }))
  const res = await tree.mutate(root, ops)
  console.log('update ms', performance.now() - t, res.written)
  t = performance.now()
  let n = 0
  for await (const _ of tree.diff(root, res.root)) n++
  console.log('diff ms', performance.now() - t, n)
  t = performance.now()
  n = 0
  for await (const _ of prolly({ blocks }).range(root)) n++
  console.log('scan ms', performance.now() - t, n)
}
const k = entries[5]!.key
let t = performance.now()
for (let i = 0; i < 200000; i++) hash('sha256', k, 'buffer')
console.log('hash() us', (performance.now() - t) * 1000 / 200000)
const buf = Buffer.from(k)
t = performance.now()
for (let i = 0; i < 200000; i++) hash('sha256', buf, 'buffer')
console.log('hash(Buffer) us', (performance.now() - t) * 1000 / 200000)
t = performance.now()
for (let i = 0; i < 200000; i++) createHash('sha256').update(k).digest()
console.log('createHash us', (performance.now() - t) * 1000 / 200000)
