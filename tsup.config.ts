import { defineConfig } from 'tsup';

export default defineConfig({
  entry: ['src/index.ts', 'src/policy/index.ts', 'src/mock/index.ts'],
  format: ['esm'],
  dts: true,
  sourcemap: true,
  clean: true,
  target: 'node20',
});
