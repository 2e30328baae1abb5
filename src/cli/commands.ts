import type { Register } from './program.js';

/**
 * The command groups beyond the queue's own (status, failed, queue). Each file registers
 * lazily-loading actions, so `gitroast --help` loads no heavy module.
 */
export const registerCommands: readonly Register[] = [];
