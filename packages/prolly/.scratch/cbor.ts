import * as dagCbor from '@ipld/dag-cbor'
import { createHash, hash } from 'node:crypto'
import { CID } from 'multiformats/cid'
import { create } from 'multiformats/hashes/digest'
const rnd = (n: number) => { const b = new Uint8Array(n); for (let i = 0; i < n; i++) b[i] = Math.random() * 256; return b }
const keys = Array.from({ length: 32 }, () => rnd(38))
const vals = Array.from({ length: 32 }, () => rnd(300))
const node = [0, keys, vals]
let t = performance.now(); let bytes!: Uint8Array
for (let i = 0; i < 10000; i++) bytes = dagCbor.encode(node)
console.log('encode us', (performance.now() - t) * 1000 / 10000, bytes.length)
t = performance.now()
for (let i = 0; i < 10000; i++) dagCbor.decode(bytes)
console.log('decode us', (performance.now() - t) * 1000 / 10000)
t = performance.now()
for (let i = 0; i < 10000; i++) createHash('sha256').update(bytes).digest()
console.log('sha us', (performance.now() - t) * 1000 / 10000)
t = performance.now()
for (let i = 0; i < 100000; i++) createHash('sha256').update(keys[i & 31]!).digest()
console.log('sha key createHash us', (performance.now() - t) * 1000 / 100000)
t = performance.now()
for (let i = 0; i < 100000; i++) hash('sha256', keys[i & 31]!, 'buffer')
console.log('sha key hash() us', (performance.now() - t) * 1000 / 100000)
const d = hash('sha256', bytes, 'buffer')
t = performance.now()
for (let i = 0; i < 100000; i++) CID.createV1(0x71, create(0x12, d))
console.log('cid create us', (performance.now() - t) * 1000 / 100000)
const c = CID.createV1(0x71, create(0x12, d))
t = performance.now()
for (let i = 0; i < 100000; i++) CID.decode(c.bytes)
console.log('cid decode us', (performance.now() - t) * 1000 / 100000)
t = performance.now()
for (let i = 0; i < 100000; i++) CID.decode(c.bytes).toString()
console.log('cid decode+toString us', (performance.now() - t) * 1000 / 100000)
