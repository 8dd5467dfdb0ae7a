// Fails early with a clear message when scripts are not running on the pinned Node 22 from node_modules/.bin.
const major = Number(process.versions.node.split('.')[0])
if (major < 22) {
  process.stderr.write(`capdex needs Node >= 22 but runs on ${process.version}: run it through pnpm so node_modules/.bin/node is used\n`)
  process.exit(1)
}
