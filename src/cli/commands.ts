import { registerAnalysisCommands } from './analysis.js';
import { registerMonitor } from './monitor.js';
import { registerDoctor } from './doctor.js';
import { registerBackup } from './backup.js';
import type { Register } from './program.js';
import { registerDaemon } from './daemon.js';
import { registerSchedule } from './schedule.js';
import { registerConfig } from './config-command.js';
import { registerDashboard } from './dashboard.js';
import { registerDb } from './db-command.js';

/**
 * The command groups beyond the queue's own (status, failed, queue). Each file registers
 * lazily-loading actions, so `gitroast --help` loads no heavy module.
 */
export const registerCommands: readonly Register[] = [registerMonitor, registerAnalysisCommands, registerDoctor, registerBackup, registerDaemon, registerSchedule, registerConfig, registerDashboard, registerDb];
