/**
 * Sets `key` as the newest entry of `map` and drops the oldest entries beyond `max`: a bounded
 * cache in insertion order (a Map iterates oldest first).
 */
export function setNewest<K, V> (map: Map<K, V>, key: K, value: V, max: number): void {
  map.delete(key)
  map.set(key, value)
  if (map.size > max) {
    const oldest = map.keys().next()
    if (oldest.done !== true) map.delete(oldest.value)
  }
}
