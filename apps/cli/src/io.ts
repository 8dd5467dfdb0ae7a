/** Reads all of stdin as bytes (for `-` file arguments). */
export async function readStdin (): Promise<Uint8Array> {
  const chunks: Buffer[] = []
  for await (const chunk of process.stdin) chunks.push(typeof chunk === 'string' ? Buffer.from(chunk) : chunk as Buffer)
  return new Uint8Array(Buffer.concat(chunks))
}
