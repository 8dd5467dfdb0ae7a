import { encodeNode, leafNode, branchNode, decodeNode, cidOf } from '../packages/prolly/src/codec.js'
const time = (label: string, n: number, f: () => unknown) => { for (let i = 0; i < 2000; i++) f(); const t = performance.now(); for (let i = 0; i < n; i++) f(); console.log(label, ((performance.now() - t) / n * 1000).toFixed(2), 'µs') }
const big = new Uint8Array(1 << 20).map((_, i) => i * 7)
const mk = (i: number, len: number) => { const k = big.subarray(i * 1000, i * 1000 + len); k[0] = 1; k[1] = i; return k }
const keys = Array.from({ length: 34 }, (_, i) => mk(i, 57))
const empty = new Uint8Array(0)
const attrLeaf = leafNode(keys, keys.map(() => empty))
const pkeys = Array.from({ length: 4 }, (_, i) => mk(100 + i, 38))
const pleaf = leafNode(pkeys, pkeys.map((_, i) => big.subarray(500000 + i * 600, 500000 + i * 600 + 540)))
const links = Array.from({ length: 25 }, (_, i) => cidOf(big.subarray(i, i + 100)))
const branch = branchNode(1, keys.slice(0, 25), links, links.map((_, i) => 100 + i))
for (const [name, node] of [['attr leaf', attrLeaf], ['provider leaf', pleaf], ['branch', branch]] as const) {
  const b = encodeNode(node)
  time(name + ' encode (' + b.bytes.length + ' B)', 20000, () => encodeNode(node))
  time(name + ' hash only', 20000, () => cidOf(b.bytes))
  time(name + ' decode', 20000, () => decodeNode(b.cid, b.bytes))
}
