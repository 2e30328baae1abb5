/** The long-running worker: claim loop, scheduler, alerts, HTTP health/metrics. Imports src/queue only. */
export type { Handler, JobContext, Logger, LogLevel, Schedule, ScheduleEnv, ScheduleTarget } from './types.js';
export { Registry, type HandlerModule } from './registry.js';
export { startWorker, type WorkerHandle, type WorkerOptions } from './worker.js';
export type { WorkerEvents, WorkerEventName, EventJob } from './run.js';
export { runDaemon, type DaemonHandle, type DaemonOptions } from './daemon.js';
export { createLogger, silentLogger, type LoggerOptions } from './logger.js';
export { classifyError, type Disposition } from './classify.js';
export { allocateSlots, type QueueLoad } from './balance.js';
export { DEFAULT_SUPERVISOR, SupervisorPool, autoScale, simpleSlots, type AutoScaleOptions, type AutoScalingStrategy, type Balance, type SupervisorSpec } from './supervisor.js';
export { WalWatcher } from './wake.js';
export { WorkerStats, quantile, type JobCounters } from './stats.js';
export { claimTick } from '../queue/index.js';
export { Scheduler, describeSchedules, lastRun, nextRun, type LastRun, type ScheduleRow } from './scheduler.js';
export { addHousekeeping, HOUSEKEEPING_CRONS, type HousekeepingOptions } from './housekeeping.js';
export { LongWaitAlerts, type LongWaitEvent, type LongWaitOptions } from './alerts.js';
export { postWebhook, maskUrl } from './webhook.js';
export { parseListen, isLoopback, startHttp, PromText, type Listen, type HttpServer, type HttpHandler, type HttpEndpoints } from './http.js';
export { renderSystemdUnit, type UnitOptions } from './systemd.js';
