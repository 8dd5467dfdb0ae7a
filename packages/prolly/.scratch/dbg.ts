import { prolly, memoryBlockStore } from '@capdex/prolly'
const tree = prolly({ blocks: memoryBlockStore() }, { targetFanout: 4, maxNodeBytes: 16_384 })
const big = new Uint8Array(1000)
{
  const a = await tree.build([{ key: Uint8Array.from([1]), value: big }])
  const { root: b } = await tree.mutate(a, [{ op: 'put', key: Uint8Array.from([0, 1, 0, 0]), value: new Uint8Array() }])
  for await (const c of tree.diff(b, a)) console.log('b->a', c)
  for await (const c of tree.diff(a, b)) console.log('a->b', c)
  console.log(await tree.depth(a), await tree.depth(b))
  for await (const blk of tree.walk(b)) console.log(blk.level, blk.cid.toString())
}
{
  const a = await tree.build([{ key: Uint8Array.from([0, 2, 0]), value: big }])
  const { root: b } = await tree.mutate(a, [{ op: 'put', key: Uint8Array.from([1]), value: big }])
  const c = await tree.build([{ key: Uint8Array.from([0, 2, 0]), value: big }, { key: Uint8Array.from([1]), value: big }])
  console.log(b.toString(), c.toString())
  for await (const blk of tree.walk(b)) console.log('mut', blk.level, blk.cid.toString())
  for await (const blk of tree.walk(c)) console.log('bld', blk.level, blk.cid.toString())
}
