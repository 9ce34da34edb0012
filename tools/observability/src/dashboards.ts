/**
 * The PromQL of the operational files: every Grafana panel target and templating query of
 * deploy/grafana/*.json, and every alert rule of deploy/prometheus/alerts.yml.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { parse } from 'yaml';
import { DEPLOY_DIR } from './paths';

/** One expression and where it comes from (for messages). */
export interface Expression {
  where: string;
  expr: string;
}

interface Panel {
  title?: string;
  targets?: { expr?: string }[];
  panels?: Panel[];
}

interface Dashboard {
  title: string;
  panels?: Panel[];
  templating?: { list?: { name: string; query?: string | { query?: string } }[] };
}

/** The dashboard files (deploy/grafana/*.json by default). */
export function dashboardFiles(dir = path.join(DEPLOY_DIR, 'grafana')): string[] {
  return fs
    .readdirSync(dir)
    .filter((f) => f.endsWith('.json'))
    .sort()
    .map((f) => path.join(dir, f));
}

/** Every panel expression and templating query of a dashboard file. */
export function dashboardExpressions(file: string): Expression[] {
  const board = JSON.parse(fs.readFileSync(file, 'utf8')) as Dashboard;
  const out: Expression[] = [];
  const walk = (panels: Panel[] | undefined): void => {
    for (const p of panels ?? []) {
      for (const t of p.targets ?? []) if (t.expr) out.push({ where: `${path.basename(file)} panel "${p.title ?? '?'}"`, expr: t.expr });
      walk(p.panels);
    }
  };
  walk(board.panels);
  for (const v of board.templating?.list ?? []) {
    const q = typeof v.query === 'string' ? v.query : v.query?.query;
    if (q && v.name !== 'datasource') out.push({ where: `${path.basename(file)} variable $${v.name}`, expr: q });
  }
  return out;
}

interface RuleFile {
  groups: { name: string; rules: { alert?: string; record?: string; expr: string }[] }[];
}

/** Every rule expression of a Prometheus rule file (deploy/prometheus/alerts.yml by default). */
export function ruleExpressions(file = path.join(DEPLOY_DIR, 'prometheus', 'alerts.yml')): Expression[] {
  const rules = parse(fs.readFileSync(file, 'utf8')) as RuleFile;
  return rules.groups.flatMap((g) => g.rules.map((r) => ({ where: `${path.basename(file)} ${r.alert ?? r.record ?? '?'}`, expr: String(r.expr) })));
}
