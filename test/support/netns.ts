// Moved to src/lab/netns.ts (routelet lab uses it too); this file keeps the tests' import path.
export * from '../../src/lab/netns.js';
