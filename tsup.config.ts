import { defineConfig } from 'tsup';

export default defineConfig({
  entry: ['src/index.ts', 'src/policy/index.ts', 'src/mock/index.ts', 'src/gateway/index.ts', 'src/store/index.ts', 'src/cli/main.ts'],
  format: ['esm'],
  dts: true,
  sourcemap: true,
  clean: true,
  target: 'node20',
});
