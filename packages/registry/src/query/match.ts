import { canonicalString } from '../entries/attrs.js'
import type { AttrPair } from '../entries/attrs.js'
import type { QueryField } from './fields.js'
import type { Query, QueryTerm, QueryValue } from './parse.js'

/** The values of every field of one provider, as the `attrs` index holds them (strings canonical). */
export type FieldValues = ReadonlyMap<QueryField, readonly QueryValue[]>

/** Groups a provider's attribute pairs by field, canonicalizing strings, and adds its name as `provider`. */
export function fieldValues (provider: string, pairs: readonly AttrPair[]): FieldValues {
  const out = new Map<QueryField, QueryValue[]>([['provider', [provider]]])
  for (const { attr, value } of pairs) {
    if (attr === 'expires') continue
    const list = out.get(attr) ?? []
    list.push(typeof value === 'string' ? canonicalString(value) : value)
    out.set(attr, list)
  }
  return out
}

/** Whether one term holds: positive ops when ANY value matches, `!=` / `notin` when NO value does. */
export function matchTerm (term: QueryTerm, values: readonly QueryValue[]): boolean {
  const [operand] = term.values
  switch (term.op) {
    case '=': return values.some((v) => v === operand)
    case '!=': return !values.some((v) => v === operand)
    case 'in': return values.some((v) => term.values.includes(v))
    case 'notin': return !values.some((v) => term.values.includes(v))
    case '<': return values.some((v) => operand !== undefined && v < operand)
    case '<=': return values.some((v) => operand !== undefined && v <= operand)
    case '>': return values.some((v) => operand !== undefined && v > operand)
    case '>=': return values.some((v) => operand !== undefined && v >= operand)
    case '~': return typeof operand === 'string' && values.some((v) => typeof v === 'string' && globMatch(operand, v))
  }
}

/** Whether every term of the query holds for a provider's field values. */
export function matchQuery (query: Query, fields: FieldValues): boolean {
  return query.terms.every((term) => matchTerm(term, fields.get(term.field) ?? []))
}

/**
 * Glob match over code points: `*` matches any run (also empty), `?` exactly one character, all
 * else itself. Linear-time backtracking over the last `*`, O(pattern × text) at worst.
 */
export function globMatch (pattern: string, text: string): boolean {
  const p = [...pattern]
  const t = [...text]
  let pi = 0
  let ti = 0
  let star = -1
  let mark = 0
  while (ti < t.length) {
    if (pi < p.length && (p[pi] === '?' || (p[pi] !== '*' && p[pi] === t[ti]))) {
      pi++
      ti++
    } else if (pi < p.length && p[pi] === '*') {
      star = pi++
      mark = ti
    } else if (star >= 0) {
      pi = star + 1
      ti = ++mark
    } else {
      return false
    }
  }
  while (pi < p.length && p[pi] === '*') pi++
  return pi === p.length
}

/** The literal text before a glob's first wildcard. */
export function globPrefix (pattern: string): string {
  const i = pattern.search(/[*?]/)
  return i < 0 ? pattern : pattern.slice(0, i)
}
