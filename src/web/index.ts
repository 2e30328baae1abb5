/** The web dashboard: pages, assets and the event stream over src/queue's read model. Imports src/queue (and src/analysis for reports) only. */
export { createDashboard, type Dashboard } from './server.js';
export type { DashboardModel } from './pages.js';
