export * from './policy/index.js';
export * from './llm/index.js';
export * from './providers/index.js';
export * from './router/index.js';
