import { ISO_3166_ALPHA2 } from './constants.js'

/*
 * Cloud region → ISO 3166-1 alpha-2 country, for catalog imports. Rules, first match wins:
 *
 * 1. Per-cloud region names that say no country (CLOUD_REGION_COUNTRIES): nebius "eu-north1" is
 *    Finland, lambda "asia-northeast-1" is Tokyo…
 * 2. vast's "State, CC, Continent": the middle part ("Michigan, US, NA" → US).
 * 3. A bare country code (lium, primeintellect: "US", "FI").
 * 4. A city, airport-style city code or country word anywhere in the name: oci "eu-frankfurt-1",
 *    cudo "se-stockholm-1", shadeform "kansascity-usa-1", spheron "SYD2", "Finland 3".
 * 5. A leading country code used as a prefix: "us-east-1", "ca-…", "uk-…", seeweb "it-fr2",
 *    jarvislabs "IN1". Continent prefixes ("eu", "ap", "af", "me", "sa") are not countries, even
 *    where the letters are also a country code (ME is Montenegro, SA Saudi Arabia).
 *
 * Everything else has no derivable country ("default", "earth", "eu", lambda "europe-south-1"):
 * callers report the row or supply a country.
 */

const COUNTRIES: ReadonlySet<string> = new Set(ISO_3166_ALPHA2)

const CLOUD_REGION_COUNTRIES: Readonly<Record<string, Readonly<Record<string, string>>>> = {
  nebius: { 'eu-north1': 'FI', 'eu-west1': 'FR' },
  lambda: {
    'asia-northeast-1': 'JP',
    'asia-northeast-2': 'KR',
    'asia-south-1': 'IN',
    'europe-central-1': 'DE',
    'me-west-1': 'IL'
  }
}

const PLACE_COUNTRIES: Readonly<Record<string, string>> = {
  // country words and alpha-3 codes seen in region names
  usa: 'US', canada: 'CA', france: 'FR', japan: 'JP', india: 'IN', poland: 'PL', germany: 'DE', uk: 'GB',
  norway: 'NO', finland: 'FI', fin: 'FI', singapore: 'SG', australia: 'AU', sweden: 'SE', netherlands: 'NL',
  iceland: 'IS', italy: 'IT', spain: 'ES', switzerland: 'CH', ireland: 'IE', korea: 'KR', brazil: 'BR',
  // cities
  abudhabi: 'AE', amsterdam: 'NL', ashburn: 'US', atlanta: 'US', austin: 'US', bangalore: 'IN', batam: 'ID',
  beltsville: 'US', bogota: 'CO', calgary: 'CA', cardiff: 'GB', carlsbad: 'US', casablanca: 'MA', casper: 'US',
  chicago: 'US', chuncheon: 'KR', culpeper: 'US', dallas: 'US', desmoines: 'US', dubai: 'AE', dulles: 'US',
  frankfurt: 'DE', helsinki: 'FI', houston: 'US', hyderabad: 'IN', jeddah: 'SA', jerusalem: 'IL',
  johannesburg: 'ZA', kansascity: 'US', kristiansand: 'NO', kulai: 'MY', london: 'GB', madrid: 'ES',
  marseille: 'FR', melbourne: 'AU', milan: 'IT', montreal: 'CA', monterrey: 'MX', mumbai: 'IN', newark: 'US',
  newyork: 'US', osaka: 'JP', oslo: 'NO', paris: 'FR', phoenix: 'US', queretaro: 'MX', raleigh: 'US',
  riyadh: 'SA', saltlakecity: 'US', sanjose: 'US', santiago: 'CL', saopaulo: 'BR', seoul: 'KR',
  stockholm: 'SE', sydney: 'AU', tokyo: 'JP', toronto: 'CA', turin: 'IT', valparaiso: 'CL', vinhedo: 'BR',
  warsaw: 'PL', wichita: 'US', zurich: 'CH',
  // airport-style city codes
  atl: 'US', syd: 'AU', tyo: 'JP'
}

const PREFIX_COUNTRIES: Readonly<Record<string, string>> = {
  us: 'US', ca: 'CA', uk: 'GB', mx: 'MX', il: 'IL', no: 'NO', se: 'SE', it: 'IT', ch: 'CH', bg: 'BG', de: 'DE',
  fr: 'FR', fi: 'FI', jp: 'JP', kr: 'KR', in: 'IN', au: 'AU', br: 'BR', sg: 'SG', nl: 'NL', es: 'ES', pl: 'PL'
}

function lookup (table: Readonly<Record<string, string>> | undefined, key: string): string | undefined {
  return table !== undefined && Object.hasOwn(table, key) ? table[key] : undefined
}

/** The ISO 3166-1 alpha-2 country a cloud's region name points to, or undefined when it names none. */
export function regionCountry (region: string, cloud: string): string | undefined {
  const trimmed = region.trim()
  if (trimmed === '') return undefined
  const lower = trimmed.toLowerCase()
  const exact = lookup(CLOUD_REGION_COUNTRIES[cloud.toLowerCase()], lower)
  if (exact !== undefined) return exact
  const parts = trimmed.split(',')
  if (parts.length === 3) {
    const code = (parts[1] ?? '').trim().toUpperCase()
    return COUNTRIES.has(code) ? code : undefined
  }
  const upper = trimmed.toUpperCase()
  if (upper.length === 2 && COUNTRIES.has(upper)) return upper
  // "syd2" → "syd", "in1" → "in"
  const tokens = lower.split(/[^a-z]+/).filter((token) => token !== '')
  for (const token of tokens) {
    const place = lookup(PLACE_COUNTRIES, token)
    if (place !== undefined) return place
  }
  return lookup(PREFIX_COUNTRIES, tokens[0] ?? '')
}

const FOLDED_LETTERS: Readonly<Record<string, string>> = { ð: 'd', đ: 'd', þ: 'th', æ: 'ae', ø: 'o', ß: 'ss', ł: 'l', œ: 'oe' }

/** A region slug for a manifest: lower case ASCII words joined by "-"; vast's "State, CC, Continent" keeps the state. */
export function regionSlug (region: string): string {
  const parts = region.split(',')
  const place = parts.length === 3 ? (parts[0] ?? '') : region
  return place
    .toLowerCase()
    .normalize('NFKD')
    .replace(/[\u0300-\u036f]/g, '')
    .replace(/[ðđþæøßłœ]/g, (letter) => FOLDED_LETTERS[letter] ?? '')
    .replace(/[^a-z0-9]+/g, '-')
    .slice(0, 64)
    .replace(/^-+|-+$/g, '')
}
