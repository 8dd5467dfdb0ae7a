export * from './attrs.js'
export * from './entry.js'
export * from './errors.js'
export * from './constants.js'
