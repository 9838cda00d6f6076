// Moved to src/lab/daemons.ts (routelet lab uses it too); this file keeps the tests' import path.
export * from '../../src/lab/daemons.js';
