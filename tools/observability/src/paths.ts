/** Where the repository's operational files are, from this project's src/ or dist/. */
import * as path from 'node:path';

/** The repository root. */
export const REPO_ROOT = path.resolve(__dirname, '..', '..', '..');
/** deploy/: Prometheus, Grafana, Docker, plain Kubernetes manifests. */
export const DEPLOY_DIR = path.join(REPO_ROOT, 'deploy');
/** helm/tributary: the chart. */
export const CHART_DIR = path.join(REPO_ROOT, 'helm', 'tributary');
