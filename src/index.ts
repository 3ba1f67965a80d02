export * from './policy/index.js';
export * from './llm/index.js';
