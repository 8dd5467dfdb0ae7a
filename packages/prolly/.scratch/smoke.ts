import { prolly, memoryBlockStore } from '@capdex/prolly'
const enc = new TextEncoder()
const blocks = memoryBlockStore()
const tree = prolly({ blocks }, { targetFanout: 8 })
const N = 5000
const keys = Array.from({ length: N }, (_, i) => enc.encode(`key-${String(i * 7919 % 100000).padStart(6, '0')}`)).sort(Buffer.compare)
const entries = keys.map((key, i) => ({ key, value: enc.encode(`v${i}`) }))
const root = await tree.build(entries)
console.log('root', root.toString(), await tree.depth(root), await tree.verify(root))
for (const e of entries) { const v = await tree.get(root, e.key); if (v == null || Buffer.compare(v, e.value) !== 0) throw new Error('get') }
let n = 0; for await (const _ of tree.range(root)) n++
console.log('scan', n, 'count', await tree.count(root))
// mutate
const ops: any[] = []
for (let i = 0; i < 300; i++) { const j = (i * 37) % N; if (i % 3 === 0) ops.push({ op: 'delete', key: keys[j] }); else ops.push({ op: 'put', key: keys[j], value: enc.encode('new' + i) }) }
for (let i = 0; i < 100; i++) ops.push({ op: 'put', key: enc.encode(`zz-${i}`), value: enc.encode('ins') })
const { root: r2, written } = await tree.mutate(root, ops)
const map = new Map(entries.map(e => [Buffer.from(e.key).toString('latin1'), e.value]))
for (const o of ops) { const k = Buffer.from(o.key).toString('latin1'); if (o.op === 'delete') map.delete(k); else map.set(k, o.value) }
const expected = [...map.entries()].sort((a, b) => a[0] < b[0] ? -1 : 1).map(([k, v]) => ({ key: Buffer.from(k, 'latin1'), value: v }))
const r3 = await tree.build(expected)
console.log('mutate', r2.toString(), r3.toString(), r2.equals(r3), 'written', written)
console.log(await tree.verify(r2))
let d = 0; for await (const _ of tree.diff(root, r2)) d++
console.log('diff', d)
// delete all
const { root: r4 } = await tree.mutate(r2, expected.map(e => ({ op: 'delete', key: e.key })))
console.log('empty', r4.equals(await tree.empty()))
