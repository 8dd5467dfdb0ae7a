/** A `--http` address that is not `host:port`. */
export class InvalidHostPortError extends Error {
  static override name = 'InvalidHostPortError'
  override name = 'InvalidHostPortError'

  constructor (message = 'Expected host:port') {
    super(message)
  }
}
