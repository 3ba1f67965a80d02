export * from './mock-server.js';
export * from './openai-mock.js';
export * from './anthropic-mock.js';
export * from './gemini-mock.js';
export * from './ollama-mock.js';
