import { defineConfig } from 'vitest/config'

// One base config for every package: each package is a vitest project, and the root `test/`
// folder holds the cross-package end-to-end tests. Sources are resolved through the
// `capdex-source` export condition, so tests run from TypeScript without a build.
const shared = {
  resolve: { conditions: ['capdex-source'] },
  ssr: { resolve: { conditions: ['capdex-source'] } }
}

export default defineConfig({
  test: {
    projects: [
      ...['packages/manifest', 'packages/prolly', 'packages/registry', 'packages/node', 'apps/cli'].map((dir) => ({
        ...shared,
        test: {
          name: `@capdex/${dir.split('/')[1] ?? dir}`,
          root: dir,
          include: ['test/**/*.spec.ts'],
          testTimeout: 60_000,
          hookTimeout: 60_000
        }
      })),
      {
        ...shared,
        test: {
          name: 'e2e',
          root: '.',
          include: ['test/**/*.spec.ts'],
          testTimeout: 180_000,
          hookTimeout: 120_000,
          fileParallelism: false
        }
      }
    ]
  }
})
