#!/usr/bin/env node
// Launcher for the `capdex` command: runs the TypeScript sources on the repo's pinned Node 22
// (node_modules/.bin/node) through tsx, so no build step is needed. Symlink this file onto your PATH.
import { spawn } from 'node:child_process'
import { existsSync, realpathSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'

const appDir = dirname(dirname(realpathSync(fileURLToPath(import.meta.url))))
const rootDir = join(appDir, '..', '..')
const pinnedNode = join(rootDir, 'node_modules', '.bin', 'node')
const node = existsSync(pinnedNode) ? pinnedNode : process.execPath
const child = spawn(node, ['--conditions=capdex-source', '--import', 'tsx', join(appDir, 'src', 'bin.ts'), ...process.argv.slice(2)], {
  stdio: 'inherit',
  cwd: process.cwd()
})
for (const sig of ['SIGINT', 'SIGTERM']) process.on(sig, () => child.kill(sig))
child.on('exit', (code, signal) => { process.exitCode = code ?? (signal != null ? 130 : 1) })
