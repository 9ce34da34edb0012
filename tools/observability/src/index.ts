/**
 * tools/observability: `npm run observe` (observe.ts) and the helpers behind the checks of
 * deploy/ and helm/ (scrape configuration, PromQL metric names, the repository's layout).
 */
export * from './scrape-config';
export * from './promql';
export * from './prometheus';
export { REPO_ROOT, DEPLOY_DIR, CHART_DIR } from './paths';
export * from './dashboards';
export { SERVICE_PORTS } from './ports';
